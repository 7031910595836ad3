"""Target extraction (対象者抽出), vouchers (接種券・予診票), recommendations (接種勧奨), print batches."""
