# ml-connector-reconciler: what the reconciler pods may do in Vault. They read their own KV v2 secret
# (mount "secret", path ml-connector/reconciler: replay_token, and identity_key, the private key that
# signs its service tokens to the gateways) and nothing else. In particular they can neither read nor
# write ml-connector/identity, the public keys the gateways trust: a stolen reconciler token cannot
# plant a key. Token lookup and renewal of their own token come from Vault's built-in "default"
# policy. configure.sh rewrites the mount name when MLC_VAULT_MOUNT is not "secret".
path "secret/data/ml-connector/reconciler" {
  capabilities = ["read"]
}
