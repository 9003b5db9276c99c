"""The letter as data: proposals (提案), replies, their 下一步 commitments tracked to delivery, and
indicators with reported and computed values kept apart."""
