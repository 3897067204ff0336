"""Sanad's faces over ``qa/``, one sub-package per job.

- ``api.service``: what every face drives: the loaded service and its documents
  (``service``), the one ask flow (``asking``), start-up recovery, upload files, the
  file-name rule, the metrics, and the domain errors the service raises (``errors``);
- ``api.answer_log``: what is kept of the answers: the log (SQLite, or on the Chroma
  server), conversations rebuilt from it, feedback and its export;
- ``api.http``: the HTTP API (FastAPI app, routes, dependencies, the HTTP error edge,
  security, streaming, the web page and its static files);
- ``api.slack``: the Slack bot (HTTP events and Socket Mode);
- ``api.serving``: ``sanad serve``: uvicorn, the worker processes and their cores.

``api.schemas`` holds the payload types the service returns and the HTTP API sends. The
``sanad`` command sits above this package (``cli/``).
"""
