"""Fee exemption (実費徴収の免除) and clinic payments (接種委託料)."""
