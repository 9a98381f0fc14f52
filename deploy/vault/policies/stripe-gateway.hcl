# ml-connector-stripe-gateway: what the stripe-gateway pods may do in Vault. They read their own KV v2 secret
# (mount "secret", path ml-connector/stripe) and the public keys that verify the reconciler's service
# tokens (ml-connector/identity, key jwks), and nothing else: no write anywhere, no list, no
# metadata, and not the reconciler's private key. Token lookup and renewal of their own token come
# from Vault's built-in "default" policy. configure.sh rewrites the mount name when
# MLC_VAULT_MOUNT is not "secret".
path "secret/data/ml-connector/stripe" {
  capabilities = ["read"]
}

# Read only: whoever could write this key set could make the gateway accept tokens they signed.
path "secret/data/ml-connector/identity" {
  capabilities = ["read"]
}
