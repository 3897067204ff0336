"""The HTTP routers, one module per resource; ``api.http.app.create_app`` includes them."""
