#!/usr/bin/env bash
# Configure Vault (or OpenBao) for one ml-connector environment: a KV v2 mount, the Kubernetes
# auth method, one policy per service (policies/*.hcl) and one Kubernetes auth role per service,
# each bound to that service's ServiceAccount in one namespace and to the "vault" token audience.
# Each service reads its own path; the gateways also read ml-connector/identity (the public keys
# that verify the reconciler's tokens), which only the admin policy may write.
# Idempotent: run it again after changing a policy.
#
# Usage:   deploy/vault/configure.sh <kubernetes-namespace>
#   e.g.   VAULT_ADDR=https://vault.example.com:8200 VAULT_TOKEN=... \
#            deploy/vault/configure.sh ml-connector-production
#
# Environment:
#   VAULT_ADDR, VAULT_TOKEN (or a prior `vault login`)  an identity allowed to manage Vault
#   VAULT_CLI        vault (default) or bao for OpenBao
#   MLC_VAULT_MOUNT  the KV v2 mount the services read (default: secret)
#   KUBERNETES_HOST  if set, also write auth/kubernetes/config with this API server address.
#                    For Vault running inside the cluster use https://kubernetes.default.svc:
#                    Vault then reviews tokens with its own service-account token and CA (its
#                    ServiceAccount needs the system:auth-delegator ClusterRole, which the Vault
#                    Helm chart grants by default). For a Vault outside the cluster, write the
#                    config yourself (kubernetes_host, kubernetes_ca_cert, token_reviewer_jwt).
#   TOKEN_TTL, TOKEN_MAX_TTL  Vault token lifetimes for the services (default 1h and 4h; the
#                    services log in again at 80 % of the TTL and on a 403).
set -euo pipefail

if [ "$#" -ne 1 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
namespace="$1"
vault="${VAULT_CLI:-vault}"
mount="${MLC_VAULT_MOUNT:-secret}"
here="$(cd "$(dirname "$0")" && pwd)"

# (Listed into a variable first: `grep -q` closing the pipe early would fail it under pipefail.)
mounts="$("$vault" secrets list -format=json)"
if ! grep -q "\"${mount}/\"" <<<"$mounts"; then
  "$vault" secrets enable -path="$mount" -version=2 kv
fi
methods="$("$vault" auth list -format=json)"
if ! grep -q '"kubernetes/"' <<<"$methods"; then
  "$vault" auth enable kubernetes
fi
if [ -n "${KUBERNETES_HOST:-}" ]; then
  "$vault" write auth/kubernetes/config kubernetes_host="$KUBERNETES_HOST"
fi

# The policy files name the mount "secret"; use the configured one.
write_policy() { # name file
  sed "s|^path \"secret/|path \"${mount}/|" "$2" | "$vault" policy write "$1" -
}

write_policy ml-connector-admin "$here/policies/ml-connector-admin.hcl"
for service in bc-gateway stripe-gateway reconciler; do
  write_policy "ml-connector-$service" "$here/policies/$service.hcl"
  "$vault" write "auth/kubernetes/role/$service" \
    bound_service_account_names="$service" \
    bound_service_account_namespaces="$namespace" \
    audience=vault \
    token_policies="ml-connector-$service" \
    token_ttl="${TOKEN_TTL:-1h}" \
    token_max_ttl="${TOKEN_MAX_TTL:-4h}"
done

echo "Vault is ready for namespace $namespace (mount $mount). Set the credentials next:" >&2
echo "  mlc-secrets set ml-connector/bc client_id client_secret client_state" >&2
echo "  mlc-secrets set ml-connector/stripe api_key webhook_secret" >&2
echo "  mlc-secrets set ml-connector/reconciler replay_token" >&2
echo "  mlc-secrets identity rotate    # the reconciler's signing key and the gateways' key set" >&2
