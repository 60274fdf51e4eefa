-- An actual cross-origin request from the allowed front-end.
wrk.method = "GET"
wrk.headers["Origin"] = "https://app.example.com"
