"""Every command the manifests, the images and the deployment guide run is a real CLI command.

A container, CronJob, Job or exec probe that names a subcommand or option the CLI does not have
would only fail in the cluster, at 3 a.m.; a guide that does would fail an operator. Each one is
proven with ``<cli> <subcommand...> --help`` from the project venv, and every ``--option`` it
passes must appear in that help. The defaults baked into the images (ENTRYPOINT + CMD) and the
invocations in docs/deploy.md (code blocks and inline code) are checked the same way.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("bc-gateway", "stripe-gateway", "reconciler")
WORD = re.compile(r"[a-z][a-z-]*")


def _split(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(cli + subcommands, options): subcommands are the leading plain words after the CLI."""
    command = [argv[0]]
    for word in argv[1:]:
        if not WORD.fullmatch(word):
            break
        command.append(word)
    return tuple(command), [word for word in argv if word.startswith("--")]


def _check(argv: list[str], where: str, cli_help: Any) -> None:
    assert argv[0] in SERVICES, f"{where}: {argv[0]!r} is not one of the service CLIs"
    command, options = _split(argv)
    assert len(command) > 1, f"{where}: no subcommand in {argv}"
    text = cli_help(*command)
    for option in options:
        assert re.search(rf"(^|\s|\[|\(){re.escape(option)}\b", text), (
            f"{where}: `{' '.join(command)}` has no option {option}"
        )


def _check_all(found: list[tuple[str, list[str]]], cli_help: Any) -> None:
    cli_help.prefetch(_split(argv)[0] for _, argv in found if argv[0] in SERVICES)
    problems = []
    for where, argv in found:
        try:
            _check(argv, where, cli_help)
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
    assert not problems, "commands that do not exist:\n" + "\n".join(sorted(set(problems)))


def _manifest_commands(overlay: Any) -> list[tuple[str, list[str]]]:
    """(where, argv) for every container command and exec probe in the overlay."""
    found = []
    for template in overlay.pod_templates():
        for container in template.containers():
            where = f"{overlay.overlay}: {template.ident}/{container['name']}"
            assert container.get("command"), f"{where}: state the command, not the image default"
            found.append((where, container["command"] + container.get("args", [])))
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in container.get(probe, {}):
                    found.append((f"{where} {probe}", container[probe]["exec"]["command"]))
    return found


def _image_defaults(service: str) -> list[str]:
    """ENTRYPOINT + CMD of the service's runtime image (exec form, JSON)."""
    text = (ROOT / "services" / service / "Dockerfile").read_text(encoding="utf-8")
    runtime = text.rsplit("\nFROM ", 1)[1]
    argv: list[str] = []
    for keyword in ("ENTRYPOINT", "CMD"):
        match = re.search(rf"^{keyword} (\[.*\])$", runtime, re.MULTILINE)
        assert match, f"{service}: {keyword} must be in exec (JSON) form"
        argv += json.loads(match.group(1))
    return argv


def _doc_commands() -> list[tuple[str, list[str]]]:
    """Service CLI invocations in docs/deploy.md: a command at the start of a code line, after
    `--` (kubectl exec), as .venv/bin/<cli>, or opening an inline code span."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    found = []
    in_block = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        snippets = [line] if in_block else re.findall(r"`([^`]+)`", line)
        for snippet in snippets:
            try:
                words = shlex.split(snippet, comments=True)
            except ValueError:
                words = snippet.split()
            for index, word in enumerate(words):
                cli = word.removeprefix(".venv/bin/")
                starts = index == 0 or words[index - 1] == "--" or word != cli
                following = words[index + 1] if index + 1 < len(words) else ""
                if cli in SERVICES and starts and WORD.fullmatch(following):
                    found.append((f"docs/deploy.md:{number}", [cli, *words[index + 1 :]]))
    return found


def test_every_manifest_command_is_a_real_cli_command(
    rendered: dict[str, Any], cli_help: Any
) -> None:
    _check_all(
        [found for overlay in rendered.values() for found in _manifest_commands(overlay)], cli_help
    )


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_default_command_is_a_real_cli_command(service: str, cli_help: Any) -> None:
    argv = _image_defaults(service)
    assert argv[0] == service
    _check(argv, f"services/{service}/Dockerfile", cli_help)


def test_every_command_in_the_deployment_guide_is_real(cli_help: Any) -> None:
    found = _doc_commands()
    # The guide must show at least the operator's own commands; an empty scan proves nothing.
    named = {" ".join(_split(argv)[0]) for _, argv in found}
    assert {"stripe-gateway register-webhook", "reconciler records list"} <= named, named
    _check_all(found, cli_help)
