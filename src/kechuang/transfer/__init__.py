"""Results transfer (成果转化): achievements, 单列管理 ledger, 赋权, transfers, technology contracts, revenue sharing."""
