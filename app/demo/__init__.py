"""The demo city (`flask demo seed`): departments, accounts and catalogue entries to try the
product with. Above the domain packages: it only calls their services."""
