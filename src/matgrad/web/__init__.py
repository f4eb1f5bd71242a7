"""``matgrad serve``: a local web page to type a formula and see its derivative
(layer 7; ``docs/web.md``).

- :mod:`~matgrad.web.derivation`: parsing with options, the numerical check (shared
  with the command line);
- :mod:`~matgrad.web.api`: the JSON API, requests checked and answers computed;
- :mod:`~matgrad.web.pool`: worker processes with a deadline;
- :mod:`~matgrad.web.server`: the HTTP server (standard library only) and
  :func:`~matgrad.web.server.serve`;
- ``static/``: the page, its script and style, and KaTeX (vendored, MIT licence).
"""
