"""Machine-to-machine daemon: the OAuth 2.0 client credentials grant (RFC 6749 §4.4).

A scheduled process imports records from an external data source into the protected API. There
is no user: the daemon calls the API on behalf of itself, with a token obtained from its own
client id and secret. The article's steps, narrated as they happen:

  1. The Application authenticates with the Authorization Server using its Client ID and Client
     Secret.
  2. The Authorization Server validates this information and returns an Access Token.
  3. The Application can use the Access Token to call the Resource Server on behalf of itself.

"Client can use received token until it expires and after that can just repeat the authorization
procedure": steps 1 and 2 run only when the cached token is about to expire (or the API answers
401 once); step 3 runs in every cycle that finds new records, with the next batch. Every delivery
narrates the three steps: 1 and 2 as they happen, or one line saying the cached token is reused.
A cycle with nothing new says so in one line, with the time of the next check.

Run ``python -m m2m_demo --help``. Modules: ``client_credentials_flow`` (steps 1, 2 and 3 in
order, the token reuse and the 401 rule: the flow to read first), and beside it the daemon's
machinery: ``daemon`` (schedule, signals, command line), ``backoff`` (retries), ``state`` (the
persisted position), ``feed`` (the data source and its batches) and ``log_format`` (one line per
event, for a person or, with ``--log-format json``, for a machine).
"""
