"""``sanad serve``: the API under uvicorn (one process by default; the model loads once per process)."""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from api.http.app import create_app
from api.service.metrics import MULTIPROC_ENV
from api.serving.worker_affinity import CoreSlots, core_sets, cpu_quota, pin_process, usable_cores
from api.serving.worker_affinity import SUPPORTED as PINNING_SUPPORTED
from api.serving.worker_readiness import WorkerReadiness
from api.serving.worker_sockets import SUPPORTED, PortReservation
from settings import Settings, StoreSettings, apply_runtime_defaults

log = logging.getLogger("sanad.api")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_server(*, host: str, port: int, settings: Settings, log_level: str = "info",
                 access_log: bool = True, **app_kwargs) -> uvicorn.Server:  # noqa: ANN003
    """A configured ``uvicorn.Server`` for ``create_app(settings)`` (tests run it in a thread)."""
    app = create_app(settings, **app_kwargs)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                            lifespan="on", proxy_headers=False, timeout_graceful_shutdown=10)
    return uvicorn.Server(config)


def app_from_env():  # noqa: ANN201 - FastAPI; the factory each `--workers` process calls
    """``create_app(Settings())``: settings come from the ``SANAD_*`` environment, and the run's
    readiness folder and core sets from what :func:`serve` set (``api.serving.worker_readiness``,
    ``api.serving.worker_affinity``): the worker claims a core set and keeps to it before loading anything."""
    slots = CoreSlots.from_environ()
    claim = slots.claim() if slots is not None else None
    if claim is not None:
        pin_process(claim.cores)
        log.info("worker %d keeps to core(s) %s", os.getpid(), ",".join(map(str, claim.cores)))
    elif slots is not None:
        log.warning("worker %d found every core set taken: the OS places it", os.getpid())
    app = create_app(Settings(), workers=WorkerReadiness.from_environ())
    app.state.core_claim = claim  # its slot stays locked while the worker lives
    return app


def core_slots(settings: StoreSettings, workers: int, *, quota: float | None = None) -> CoreSlots | None:
    """The run's core sets, one per worker (``SANAD_PIN_WORKERS``), or None (logged why).
    ``quota``: the cgroup's CPU quota (read here when not given)."""
    if not settings.pin_workers or workers < 2:
        return None
    cores = usable_cores()
    sets = core_sets(cores, workers=workers, threads=settings.torch_threads)
    quota = quota if quota is not None else cpu_quota()
    if not PINNING_SUPPORTED:
        why = "this platform cannot"
    elif not sets:
        why = f"{workers} workers x {settings.torch_threads} torch thread(s) do not fit {len(cores)} cores"
    elif quota is not None and quota < len(cores):
        why = f"a CPU quota of {quota:g} shares the {len(cores)} cores with others"
    else:
        why = ""
    if why:
        log.info("workers not kept to cores: %s", why)
        return None
    log.info("each worker keeps to cores of its own: %s", " | ".join(",".join(map(str, s)) for s in sets))
    return CoreSlots(Path(tempfile.mkdtemp(prefix="sanad-serve-cores-")), sets)


def serve(*, host: str, port: int, settings: Settings, workers: int = 1) -> int:
    """Serve until interrupted; returns the process exit status.

    ``workers > 1`` starts that many uvicorn worker processes, each listening on a socket of
    its own on the same port (``api.serving.worker_sockets``: connections are spread over them); each loads its
    own model (about 1 GB RSS each) and reads its settings from the ``SANAD_*`` environment.
    Rate limits are then per worker (conversations too, with the answer log off)."""
    apply_runtime_defaults()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.api_keys and not _is_loopback(host):
        log.warning("serving on %s without API keys: anyone who can reach it can upload and delete "
                    "documents (set SANAD_API_KEYS)", host)
    log.info("Sanad on http://%s:%d (data dir %s); /readyz turns 200 once the model is loaded",
             host, port, settings.data_dir)
    if workers > 1:
        log.info("%d worker processes, each with its own model; rate limits (and conversations, with the answer "
                 "log off) are per worker, and without SANAD_CHROMA_URL a document uploaded through one worker reaches the "
                 "others' dense search only after a restart", workers)
        config = uvicorn.Config("api.serving.server:app_from_env", factory=True, host=host, port=port,
                                workers=workers, log_level="info", lifespan="on", proxy_headers=False,
                                timeout_graceful_shutdown=10)
        # /readyz is 200 only once every worker has loaded: they leave markers in a folder of this run;
        # /metrics reports every worker: they write their values to another (api.service.metrics)
        readiness = WorkerReadiness(Path(tempfile.mkdtemp(prefix="sanad-serve-ready-")), workers=workers)
        metrics_dir = tempfile.mkdtemp(prefix="sanad-serve-metrics-")
        run_environ = {**readiness.environ(), MULTIPROC_ENV: metrics_dir}
        slots = core_slots(settings, workers)  # a core set of its own for each worker (api.serving.worker_affinity)
        if slots is not None:
            run_environ.update(slots.environ())
        os.environ.update(run_environ)  # the worker processes inherit it
        reservation: PortReservation | None = None
        try:
            from uvicorn.supervisors import Multiprocess

            if SUPPORTED:  # a listening socket per worker: the kernel shares connections out (api.serving.worker_sockets)
                try:
                    reservation = PortReservation(host, port)
                except OSError as exc:
                    log.error("cannot listen on %s:%d: %s", host, port, exc.strerror or exc)
                    return 1
                sockets = [reservation.listener(config.backlog)]
            else:
                sockets = [config.bind_socket()]
            Multiprocess(config, sockets=sockets).run()  # type: ignore[arg-type]  # a listener becomes a socket there
        except SystemExit as exc:
            return 1 if exc.code else 0
        except KeyboardInterrupt:
            return 130
        finally:
            if reservation is not None:
                reservation.close()
            for name in run_environ:
                os.environ.pop(name, None)
            shutil.rmtree(readiness.folder, ignore_errors=True)
            shutil.rmtree(metrics_dir, ignore_errors=True)
            if slots is not None:
                shutil.rmtree(slots.folder, ignore_errors=True)
        return 0
    server = build_server(host=host, port=port, settings=settings)
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits (3) when it cannot bind or start; it logged why
        return 1 if exc.code else 0
    except KeyboardInterrupt:
        return 130
    return 0 if server.started else 1
