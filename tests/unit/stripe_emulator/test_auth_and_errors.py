"""Authentication and Stripe's error envelope on every kind of failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
import stripe

from stripe_emulator.server import EmulatorServer

TEST_KEY = "sk_test_emulator_contract"


class TestAuthentication:
    def test_missing_key_is_401_with_stripe_message(self, emu: EmulatorServer) -> None:
        response = requests.get(f"{emu.base_url}/v1/customers", timeout=5)
        body = response.json()
        assert response.status_code == 401
        assert body["error"]["type"] == "invalid_request_error"
        assert "You did not provide an API key" in body["error"]["message"]
        assert response.headers["Request-Id"].startswith("req_")

    def test_wrong_key_raises_authentication_error_with_masked_key(
        self, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        with pytest.raises(stripe.AuthenticationError) as caught:
            make_client("not_a_key_1234").v1.customers.list()
        assert caught.value.http_status == 401
        assert "not_a_key_1234" not in str(caught.value.user_message)
        assert caught.value.request_id is not None

    def test_configured_key_set_rejects_other_test_keys(
        self, emu: EmulatorServer, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        emu.configure(api_keys=["sk_test_only_this_one"])
        assert make_client("sk_test_only_this_one").v1.customers.list().data == []
        with pytest.raises(stripe.AuthenticationError):
            make_client(TEST_KEY).v1.customers.list()

    def test_revoked_key_is_api_key_expired(
        self, emu: EmulatorServer, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        emu.configure(revoked_keys=["sk_test_revoked_9999"])
        with pytest.raises(stripe.AuthenticationError) as caught:
            make_client("sk_test_revoked_9999").v1.customers.list()
        # AuthenticationError is built without `code`: read it from the error object.
        assert caught.value.error is not None
        assert caught.value.error.code == "api_key_expired"
        assert "Expired API Key" in str(caught.value.user_message)

    def test_restricted_key_gets_403_outside_its_permissions(
        self, emu: EmulatorServer, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        emu.configure(restricted_keys={"rk_test_reader_0001": ["customers:read"]})
        reader = make_client("rk_test_reader_0001")
        assert reader.v1.customers.list().data == []
        with pytest.raises(stripe.PermissionError) as caught:
            reader.v1.customers.create(params={"email": "x@example.com"})
        assert caught.value.http_status == 403
        with pytest.raises(stripe.PermissionError):
            reader.v1.invoices.list()

    def test_basic_auth_with_key_as_user_name(self, emu: EmulatorServer) -> None:
        response = requests.post(
            f"{emu.base_url}/v1/customers",
            data={"email": "basic@example.com", "metadata[source]": "curl"},
            auth=(TEST_KEY, ""),
            timeout=5,
        )
        assert response.status_code == 200
        assert response.json()["metadata"] == {"source": "curl"}

    def test_publishable_key_is_refused(
        self, make_client: Callable[..., stripe.StripeClient]
    ) -> None:
        with pytest.raises(stripe.AuthenticationError) as caught:
            make_client("pk_test_abc").v1.customers.list()
        assert caught.value.error is not None
        assert caught.value.error.code == "secret_key_required"


class TestErrorEnvelope:
    def test_unknown_route_answers_json_404(self, emu: EmulatorServer) -> None:
        response = requests.delete(
            f"{emu.base_url}/v1/no_such_things/x", auth=(TEST_KEY, ""), timeout=5
        )
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert "Unrecognized request URL (DELETE: /v1/no_such_things/x)" in error["message"]
        assert response.headers["Request-Id"].startswith("req_")

    def test_missing_object_is_resource_missing(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.invoices.retrieve("in_missing")
        assert caught.value.http_status == 404
        assert caught.value.code == "resource_missing"
        assert caught.value.error is not None
        assert caught.value.error.param == "invoice"
        assert caught.value.error.message == "No such invoice: 'in_missing'"

    def test_unknown_and_missing_parameters(self, client: stripe.StripeClient) -> None:
        with pytest.raises(stripe.InvalidRequestError) as unknown:
            client.v1.customers.create(params={"colour": "red"})  # type: ignore[arg-type]
        assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "colour")
        with pytest.raises(stripe.InvalidRequestError) as missing:
            client.v1.invoices.create(params={})
        assert (missing.value.code, missing.value.param) == ("parameter_missing", "customer")

    def test_bad_integer_names_the_bracketed_param(self, emu: EmulatorServer) -> None:
        customer = requests.post(
            f"{emu.base_url}/v1/customers", auth=(TEST_KEY, ""), timeout=5
        ).json()
        invoice = requests.post(
            f"{emu.base_url}/v1/invoices",
            data={"customer": customer["id"]},
            auth=(TEST_KEY, ""),
            timeout=5,
        ).json()
        response = requests.post(
            f"{emu.base_url}/v1/invoices/{invoice['id']}/add_lines",
            data={"lines[0][amount]": "12.50"},
            auth=(TEST_KEY, ""),
            timeout=5,
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "lines[0][amount]"
        assert response.json()["error"]["code"] == "parameter_invalid_integer"
