"""The HTTP API: ``api.http.app.create_app`` builds the FastAPI app; domain errors become
status codes here only (``api.http.errors``)."""
