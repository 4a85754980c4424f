"""etcd backend for kvstore."""
