"""The HTML a person sees during emulated sign-in: the form, error pages, sign-out, form_post.

People (and browser tests) use these pages, so they are built to be accessible (WCAG 2.2 AA,
checked with axe-core): ``<html lang>``, a title and one ``<h1>`` per page, a ``<main>`` landmark,
a real ``<form method="post">`` whose fields have ``<label>``\\s and ``autocomplete`` tokens, a
submit ``<button>``, an error message announced with ``role="alert"`` and tied to the fields with
``aria-describedby``/``aria-invalid``, visible focus, text contrast above 4.5:1, nothing that needs
a mouse. There is no inline script or style: the stylesheet and the one script (``form_post``'s
auto-submit, which a visible Continue button backs up) are served from the emulator, so the pages
work under a strict Content-Security-Policy, which they send.

Texts follow what Entra shows: "Sign in to your account" (title), "Your account or password is
incorrect." (AADSTS50126), "This username may be incorrect. ..." (AADSTS50034), "Sorry, but we're
having trouble signing you in." with the AADSTS message, request id, correlation id and timestamp
(error page), "You signed out of your account" (after logout without a registered
``post_logout_redirect_uri``, https://learn.microsoft.com/entra/identity-platform/
v2-protocols-oidc: "the user is shown a generic message"). ``response_mode=form_post`` "executes a
POST containing the code to your redirect URI" (https://learn.microsoft.com/entra/
identity-platform/v2-oauth2-auth-code-flow).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from flask import Response
from flask import render_template_string

from bc_emulator.errors import EntraTrace

STYLESHEET = """\
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  background: #f2f2f2; color: #1b1b1b;
  font: 1rem/1.5 "Segoe UI", system-ui, -apple-system, "Helvetica Neue", Arial, sans-serif;
}
main { width: min(100%, 28rem); margin: 1rem; padding: 2.5rem 2.75rem; background: #ffffff;
  box-shadow: 0 2px 6px rgba(0, 0, 0, 0.2); }
.brand { margin: 0 0 1rem; font-weight: 600; }
.brand span { font-weight: 400; color: #595959; }
h1 { margin: 0 0 0.25rem; font-size: 1.5rem; font-weight: 600; }
p { margin: 0 0 1rem; }
.field { margin: 0 0 1rem; }
label { display: block; margin-bottom: 0.25rem; font-weight: 600; }
input[type="text"], input[type="password"] {
  width: 100%; padding: 0.5rem; border: 1px solid #666666; border-radius: 2px;
  font: inherit; color: #1b1b1b; background: #ffffff;
}
input[aria-invalid="true"] { border: 2px solid #a4262c; }
.error { color: #a4262c; font-weight: 600; }
button {
  min-width: 7.5rem; min-height: 2.5rem; padding: 0.375rem 1rem; border: 0; border-radius: 2px;
  background: #0067b8; color: #ffffff; font: inherit; font-weight: 600; cursor: pointer;
}
button:hover { background: #005da6; }
:focus-visible { outline: 3px solid #1b1b1b; outline-offset: 2px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem;
  font-size: 0.875rem; }
dt { font-weight: 600; }
dd { margin: 0; word-break: break-all; }
.message { word-break: break-word; }
"""

# form_post's auto-submit (external so the page needs no inline script).
FORM_POST_SCRIPT = 'document.getElementById("response-form").submit();\n'

_LAYOUT = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<link rel="stylesheet" href="{{ assets }}/signin.css">
</head>
<body>
<main>
<p class="brand">Microsoft Entra ID <span>(emulated for tests)</span></p>
{{ content|safe }}
</main>
{% if script %}<script src="{{ assets }}/{{ script }}"></script>{% endif %}
</body>
</html>
"""

_SIGNIN = """\
<h1>Sign in</h1>
<p>to continue to {{ app_name }}</p>
{% if error %}<p id="signin-error" class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
<input type="hidden" name="flowToken" value="{{ flow_token }}">
<div class="field">
<label for="login">Email or user name</label>
<input id="login" name="login" type="text" value="{{ login }}" autocomplete="username"
 inputmode="email" autocapitalize="none" spellcheck="false" required
 {%- if error %} aria-describedby="signin-error" aria-invalid="true"{% endif %}
 {%- if not login %} autofocus{% endif %}>
</div>
<div class="field">
<label for="passwd">Password</label>
<input id="passwd" name="passwd" type="password" autocomplete="current-password" required
 {%- if error %} aria-describedby="signin-error" aria-invalid="true"{% endif %}
 {%- if login %} autofocus{% endif %}>
</div>
<button type="submit">Sign in</button>
</form>
"""

_ERROR = """\
<h1>Sorry, but we're having trouble signing you in.</h1>
<p class="message">AADSTS{{ aadsts }}: {{ message }}</p>
<dl>
<dt>Request Id</dt><dd>{{ trace.trace_id }}</dd>
<dt>Correlation Id</dt><dd>{{ trace.correlation_id }}</dd>
<dt>Timestamp</dt><dd>{{ trace.timestamp }}</dd>
</dl>
"""

_SIGNED_OUT = """\
<h1>You signed out of your account</h1>
<p>It's a good idea to close all browser windows.</p>
"""

_FORM_POST = """\
<h1>Signing you in</h1>
<p>If nothing happens, select Continue.</p>
<form id="response-form" method="post" action="{{ action }}">
{% for name, value in fields %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<button type="submit">Continue</button>
</form>
"""


def _page(
    assets: str,
    title: str,
    content: str,
    status: int,
    *,
    form_action: str = "'self'",
    script: str | None = None,
) -> Response:
    html = render_template_string(
        _LAYOUT, title=title, assets=assets, content=content, script=script
    )
    response = Response(html, status=status, mimetype="text/html")
    script_src = "'self'" if script else "'none'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'self'; script-src {script_src}; img-src 'self'; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store, no-cache"
    response.headers["Pragma"] = "no-cache"
    return response


def signin_page(
    assets: str,
    *,
    action: str,
    app_name: str,
    flow_token: str,
    login: str = "",
    error: str | None = None,
    redirect_origin: str | None = None,
) -> Response:
    """The sign-in form (200, also when re-shown with an error, as Entra does).

    Browsers apply ``form-action`` to the redirects that follow a form's POST too (Chromium
    does), and this form's answer is a 302 to the app's redirect URI: the policy names that
    origin, or no browser would ever get back to the app."""
    content = render_template_string(
        _SIGNIN,
        action=action,
        app_name=app_name,
        flow_token=flow_token,
        login=login,
        error=error,
    )
    form_action = f"'self' {redirect_origin}" if redirect_origin else "'self'"
    return _page(assets, "Sign in to your account", content, 200, form_action=form_action)


def error_page(assets: str, status: int, aadsts: int, message: str, trace: EntraTrace) -> Response:
    """Entra's error page: nothing goes back to the app."""
    content = render_template_string(_ERROR, aadsts=aadsts, message=message, trace=trace)
    return _page(assets, "Sign in to your account", content, status)


def signed_out_page(assets: str) -> Response:
    """Shown after logout when no registered ``post_logout_redirect_uri`` was given."""
    return _page(assets, "Sign out", _SIGNED_OUT, 200)


def form_post_page(assets: str, action: str, fields: Sequence[tuple[str, str]]) -> Response:
    """``response_mode=form_post``: a form that posts the response to the redirect URI."""
    parts = urlsplit(action)
    origin = f"{parts.scheme}://{parts.netloc}"
    content = render_template_string(_FORM_POST, action=action, fields=fields)
    return _page(assets, "Working...", content, 200, form_action=origin, script="form-post.js")
