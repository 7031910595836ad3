"""The local hub standing in for the information-provision network (情報提供ネットワークシステム).

A separate process (``yobo hub serve``) with its own database and keys; imports no Django."""
