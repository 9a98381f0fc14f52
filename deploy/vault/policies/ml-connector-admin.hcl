# ml-connector-admin: for the people (or the pipeline) who set the credentials with mlc-secrets or
# `vault kv put`, and who rotate the service identity keys (`mlc-secrets identity rotate` writes
# ml-connector/identity and the reconciler's identity_key). Not attached to any pod. configure.sh
# rewrites the mount name when MLC_VAULT_MOUNT is not "secret".
path "secret/data/ml-connector/*" {
  capabilities = ["create", "read", "update", "patch", "delete"]
}
path "secret/metadata/ml-connector/*" {
  capabilities = ["read", "list", "delete"]
}
