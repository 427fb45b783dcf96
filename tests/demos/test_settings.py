"""shared/settings.py, the environment reader of every part, and shared/cli.py's argument types."""

import argparse

import pytest

from shared.cli import positive_integer, positive_number
from shared.settings import LOOPBACK_HOST_NAMES, ConfigurationError, Environment, is_loopback


def test_text_is_stripped_and_an_empty_value_takes_the_default():
    env = Environment({"A": "  value ", "EMPTY": "   "})
    assert env.text("A") == "value"
    assert env.text("EMPTY", "default") == "default"
    assert env.text("UNSET") is None


def test_a_value_that_is_not_text_is_refused_naming_it():
    with pytest.raises(ConfigurationError, match="^PORT must be a string$"):
        Environment({"PORT": 3010}).text("PORT")


@pytest.mark.parametrize(
    "url",
    ["http://localhost:3010", "https://api.example/v1", "http://[::1]:3010/", "http://10.0.0.2"],
)
def test_http_urls_are_taken(url):
    assert Environment({"API_URL": url}).http_url("API_URL") == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://api.example",
        "api.example",
        "http://",
        "https://api.example#fragment",
        "https://user:secret@api.example",
        "https://api.example;frame-ancestors *",
        "https://api example",
    ],
)
def test_anything_but_an_http_url_with_a_plain_host_is_refused(url):
    with pytest.raises(ConfigurationError, match="^API_URL must be an http"):
        Environment({"API_URL": url}).http_url("API_URL")


@pytest.mark.parametrize(("value", "port"), [(None, 3010), ("0", 0), ("65535", 65535)])
def test_ports(value, port):
    environ = {} if value is None else {"PORT": value}
    assert Environment(environ).port("PORT", 3010) == port


@pytest.mark.parametrize("value", ["65536", "-1", "http", "80.5"])
def test_a_port_out_of_range_is_refused(value):
    with pytest.raises(ConfigurationError, match="^PORT must be a port number"):
        Environment({"PORT": value}).port("PORT", 3010)


def test_flags_are_0_or_1():
    assert Environment({}).flag("FLAG") is False
    assert Environment({"FLAG": "1"}).flag("FLAG") is True
    with pytest.raises(ConfigurationError, match="^FLAG must be 0 or 1$"):
        Environment({"FLAG": "true"}).flag("FLAG")


def test_ip_addresses():
    assert Environment({"HOST": "::1"}).ip_address("HOST", "127.0.0.1") == "::1"
    assert Environment({}).ip_address("HOST", "127.0.0.1") == "127.0.0.1"
    with pytest.raises(ConfigurationError, match="^HOST must be an IP address"):
        Environment({"HOST": "localhost"}).ip_address("HOST", "127.0.0.1")


def test_comma_lists_keep_an_empty_entry_for_the_caller_to_refuse():
    assert Environment({"LIST": "a, b,"}).comma_list("LIST", "x") == ("a", "b", "")
    assert Environment({}).comma_list("LIST", "x") == ("x",)


@pytest.mark.parametrize(
    ("environ", "issuer"),
    [
        ({}, "http://localhost:9000/"),
        ({"AUTH_ISSUER": "http://127.0.0.1:9000/"}, "http://127.0.0.1:9000/"),
        ({"AUTH_ISSUER": "http://[::1]:9000/"}, "http://[::1]:9000/"),
        ({"AUTH0_DOMAIN": "flowlab.eu.auth0.com"}, "https://flowlab.eu.auth0.com/"),
    ],
)
def test_the_issuer(environ, issuer):
    assert Environment(environ).issuer() == issuer


@pytest.mark.parametrize(
    "issuer",
    ["https://evil.example;script-src */", "https://user@tenant.example/", "https://t.example/?q"],
)
def test_an_issuer_that_is_no_plain_https_url_is_refused(issuer):
    with pytest.raises(ConfigurationError, match="^AUTH_ISSUER must be an http"):
        Environment({"AUTH_ISSUER": issuer}).issuer()


def test_loopback_host_names_are_this_machines_names():
    assert {"localhost", "127.0.0.1", "::1"} == LOOPBACK_HOST_NAMES
    assert is_loopback("http://[::1]:9000/") and is_loopback("http://localhost/")
    assert not is_loopback("http://127.0.0.2/") and not is_loopback("https://localhost.example/")


@pytest.mark.parametrize(("text", "value"), [("120", 120.0), ("0.2", 0.2)])
def test_positive_numbers(text, value):
    assert positive_number(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf"])
def test_anything_but_a_finite_positive_number_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="must be a number greater than 0"):
        positive_number(text)


def test_positive_integers():
    assert positive_integer("5") == 5
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 1"):
        positive_integer("0")
