"""What every face (HTTP, Slack, the CLI) drives: the loaded service and its documents, the one
ask flow, and the domain errors they raise (``api.service.errors``); no HTTP here."""
