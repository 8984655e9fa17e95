"""Staff: accounts and access, audit, handoff tickets, hand-backs, response times."""
