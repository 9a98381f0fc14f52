"""Reading a Prometheus exposition in tests: one sample's value, by name and labels."""

from __future__ import annotations

import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def samples(body: str) -> list[Any]:
    """Every sample of a text exposition."""
    return [s for family in text_string_to_metric_families(body) for s in family.samples]


def sample(body: str, name: str, **labels: str) -> float | None:
    """The value of the one sample ``name{labels...}`` (extra labels allowed), or None."""
    found = [
        s.value
        for s in samples(body)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
    return found[0] if found else None


def count(body: str, name: str, **labels: str) -> float:
    """A counter's value; an absent series counts 0."""
    return sample(body, name, **labels) or 0.0


def scrape_client(client: Any, **kwargs: Any) -> str:
    """``GET /metrics`` through a Flask test client; must answer 200."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return str(response.get_data(as_text=True))


def scrape_url(url: str) -> str:
    """``GET <url>`` over HTTP; must answer 200."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return str(response.read().decode())
