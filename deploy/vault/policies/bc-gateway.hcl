# ml-connector-bc-gateway: what the bc-gateway pods may do in Vault. They read their own KV v2 secret
# (mount "secret", path ml-connector/bc) and nothing else; token lookup and renewal of their own
# token come from Vault's built-in "default" policy. configure.sh rewrites the mount name when
# MLC_VAULT_MOUNT is not "secret".
path "secret/data/ml-connector/bc" {
  capabilities = ["read"]
}
