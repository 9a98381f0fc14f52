"""The service images, read statically: there is no Docker engine in CI.

Each ``services/<svc>/Dockerfile`` must be multi-stage with a pinned base, install a pinned uv
only in the builder, install exactly its own workspace member from the frozen lock without the
dev group (dependencies first, code second, for layer caching), and ship a runtime stage that
holds nothing but the venv and runs as a numeric non-root user. Nothing from emulators/, tests/
or the local state (var/, .venv) may reach the build context, and no secret may be baked in.
test_image_build.py then replays the builder stage with uv to check what it installs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
UV_VERSION = "0.13.8"
APP_UID = 10001
BASE_IMAGE = re.compile(r"python:3\.11\.\d+-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?")
SECRETISH = re.compile(r"sk_(live|test)_|whsec_|hvs\.|PASSWORD|SECRET|TOKEN|MASTER_KEY", re.I)
# What the build context (.dockerignore) must never let through.
NEVER_IN_CONTEXT = (
    "emulators/src/bc_emulator/server.py",
    "emulators/pyproject.toml",
    "tests/conftest.py",
    "var/secrets.enc",
    "var/master.key",
    ".venv/bin/python",
    ".git/config",
    "docs/deploy.md",
    "deploy/k8s/base/kustomization.yaml",
    "shared/src/mlconnector/__pycache__/money.cpython-311.pyc",
)


def _uv_syncs(dockerfile: Any) -> list[list[str]]:
    builder = dockerfile.stage("builder")
    return [
        run.args[run.args.index("uv sync") :].split("&&")[0].split()
        for run in builder.all("RUN")
        if "uv sync" in run.args
    ]


def _copy_sources(instruction: Any) -> list[str]:
    words = [w for w in instruction.args.split() if not w.startswith("--")]
    return words[:-1]


def test_it_is_multi_stage_with_one_pinned_base(dockerfile: Any) -> None:
    assert dockerfile.text.startswith("# syntax=docker/dockerfile:1\n")
    names = [stage.name for stage in dockerfile.stages]
    # The reconciler also builds the console's front-end files from npm (see below).
    extra = ["console-assets"] if dockerfile.service == "reconciler" else []
    assert names == [*extra, "builder", "runtime"]
    builder, runtime = dockerfile.stage("builder"), dockerfile.stage("runtime")
    # The venv's interpreter symlink points into the base image: both stages must share it.
    assert builder.base == runtime.base
    assert BASE_IMAGE.fullmatch(runtime.base), f"base image not pinned: {runtime.base}"


def test_the_builder_pins_the_same_uv_as_the_scripts(dockerfile: Any) -> None:
    lib = (ROOT / "scripts" / "lib.sh").read_text(encoding="utf-8")
    assert f'UV_VERSION="{UV_VERSION}"' in lib
    installs = [
        run.args for run in dockerfile.stage("builder").all("RUN") if "pip install" in run.args
    ]
    assert len(installs) == 1
    assert f"uv=={UV_VERSION}" in installs[0].split()


def test_it_installs_only_its_package_from_the_frozen_lock(dockerfile: Any) -> None:
    deps, code = _uv_syncs(dockerfile)
    for argv in (deps, code):
        assert {"--frozen", "--no-dev"} <= set(argv), argv
        assert argv[argv.index("--package") + 1] == dockerfile.service, argv
        assert not {"--all-packages", "--dev", "--group", "--all-groups", "--extra"} & set(argv)
    assert "--no-install-workspace" in deps
    assert "--no-editable" in code


def test_dependencies_are_installed_before_the_code_is_copied(dockerfile: Any) -> None:
    """The dependency layer depends only on the lock and pyprojects, so code edits reuse it."""
    metadata = re.compile(r"(.*/)?pyproject\.toml|uv\.lock")
    steps = []
    for instruction in dockerfile.stage("builder").instructions:
        if instruction.keyword == "RUN" and "uv sync" in instruction.args:
            steps.append("sync")
        elif instruction.keyword == "COPY":
            sources = _copy_sources(instruction)
            code = not all(metadata.fullmatch(s) for s in sources)
            steps.append("code" if code else "metadata")
    first_code = steps.index("code")
    assert steps.count("sync") == 2
    assert steps.index("sync") < first_code, "dependencies must be synced before the code"
    assert "metadata" not in steps[first_code:]
    assert steps[-1] == "sync"


def test_the_builder_copies_only_the_workspace_definition_shared_and_this_service(
    dockerfile: Any,
) -> None:
    allowed = re.compile(
        rf"pyproject\.toml|uv\.lock|shared/(pyproject\.toml)?|services/[a-z-]+/pyproject\.toml"
        rf"|services/{dockerfile.service}/"
    )
    sources = [s for i in dockerfile.stage("builder").all("COPY") for s in _copy_sources(i)]
    assert "shared/" in sources
    assert f"services/{dockerfile.service}/" in sources
    for source in sources:
        assert allowed.fullmatch(source), f"{dockerfile.service} copies {source}"
        assert "emulators" not in source


def test_the_runtime_stage_holds_only_the_venv_and_runs_unprivileged(dockerfile: Any) -> None:
    runtime = dockerfile.stage("runtime")
    copy, *assets = runtime.all("COPY")
    assert copy.args.split() == ["--from=builder", "/app/.venv", "/app/.venv"]
    if dockerfile.service == "reconciler":
        (files,) = assets
        assert files.args.split() == [
            "--from=console-assets",
            "/assets/node_modules",
            "/app/console-assets/node_modules",
        ]
    else:
        assert assets == []
    for run in runtime.all("RUN"):
        assert not re.search(r"apt-get|apk |pip install|uv |curl|wget", run.args), run.args
    env = " ".join(i.args for i in runtime.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    assert "PATH=/app/.venv/bin:$PATH" in env
    (user,) = runtime.all("USER")
    assert user.args == f"{APP_UID}:{APP_UID}", "a numeric UID lets Kubernetes check non-root"
    assert runtime.all("EXPOSE")[0].args == "8080"
    # USER comes after every RUN, so nothing later runs as root.
    keywords = [i.keyword for i in runtime.instructions]
    assert max(n for n, k in enumerate(keywords) if k == "RUN") < keywords.index("USER")


def test_the_console_assets_come_from_the_npm_lock_alone(dockerfile: Any) -> None:
    """The reconciler serves htmx and Pico CSS itself: installed by npm ci from the committed
    lock (no dev packages such as axe-core), in a stage of their own on a pinned Node image."""
    if dockerfile.service != "reconciler":
        return
    assets = dockerfile.stage("console-assets")
    assert re.fullmatch(r"node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?", assets.base)
    sources = [s for i in assets.all("COPY") for s in _copy_sources(i)]
    assert sources == [
        "services/reconciler/assets/package.json",
        "services/reconciler/assets/package-lock.json",
    ]
    (install,) = assets.all("RUN")
    assert install.args.split()[:3] == ["npm", "ci", "--omit=dev"]
    env = " ".join(i.args for i in dockerfile.stage("runtime").all("ENV"))
    assert "MLC_CONSOLE_ASSETS_DIR=/app/console-assets/node_modules" in env


def test_no_secret_or_local_state_is_baked_in(dockerfile: Any) -> None:
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.keyword in ("ENV", "ARG", "LABEL"):
                assert not SECRETISH.search(instruction.args), instruction.args
            if instruction.keyword in ("COPY", "ADD"):
                assert instruction.keyword == "COPY", "ADD can fetch URLs; use COPY"
                for source in _copy_sources(instruction):
                    assert not source.startswith(("var", ".venv", "tests", ".git")), source


def test_dockerignore_admits_only_what_the_images_are_built_from(dockerignore: Any) -> None:
    for path in NEVER_IN_CONTEXT:
        assert not dockerignore.included(path), path
    for path in (
        "pyproject.toml",
        "uv.lock",
        "shared/pyproject.toml",
        "shared/src/mlconnector/money.py",
        "services/reconciler/pyproject.toml",
        "services/reconciler/src/reconciler/migrations/env.py",
    ):
        assert dockerignore.included(path), path


def test_every_copied_source_is_in_the_build_context(dockerfile: Any, dockerignore: Any) -> None:
    for instruction in dockerfile.stage("builder").all("COPY"):
        for source in _copy_sources(instruction):
            files = (
                [source]
                if (ROOT / source).is_file()
                else [str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*.py")]
            )
            admitted = [f for f in files if dockerignore.included(f)]
            assert admitted, f"{source} is excluded by .dockerignore"
