"""Steps the end-to-end tests take in the browser, named as a learner would say them."""

USERS = {
    "alice": ("alice@flowlab.test", "alice-password"),
    "bob": ("bob@flowlab.test", "bob-password"),
}


def login(page, email, password):
    """Fill the authorization server's login form on the current page and submit it."""
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
