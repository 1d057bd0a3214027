"""The generation routes' one call into the serving core: a parsed request, started."""

from api import peer
from api.request_parsing import GenerationRequest
from api.routes.request_input import client
from api.service import current
from serving import generation
from serving.registry import ServedModel


def start(parsed: GenerationRequest) -> tuple[ServedModel, generation.Generation]:
    """The model and its running generation, once the engine has taken it (a stream learns
    that its client left from a failed write; a JSON request's wait watches the socket)."""
    service = current()
    model = service.registry.get(parsed.model)
    run = generation.begin(
        model,
        parsed.prefix,
        parsed.params,
        policy=service.policy,
        live=parsed.stream,
        client=client(),
        observer=service.metrics,
        client_gone=generation.never_gone if parsed.stream else peer.watcher(),
        name=parsed.name,
    )
    run.wait_started()
    return model, run
