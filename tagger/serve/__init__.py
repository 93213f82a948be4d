"""``tagger serve``: the models as an HTTP service with dynamic micro-batching. Modules by concern: ``settings``
(what a server runs with, checked when made), ``request`` (a request's body read within its limits, parsed and
validated), ``tagging`` (one micro-batch through a model, answered with the JSONL writer's records),
``batcher`` (the bounded queue and the batching loop, the model off the event loop), ``observability``
(Prometheus metrics and the JSON access log), ``app`` (the FastAPI application and its routes) and ``server``
(uvicorn, in one process or several, and SIGTERM's drain)."""

from tagger.serve.app import create_app
from tagger.serve.server import run_server
from tagger.serve.settings import Limits, ServeSettings, parse_model_specs

__all__ = ["Limits", "ServeSettings", "create_app", "parse_model_specs", "run_server"]
