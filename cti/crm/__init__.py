"""Loading a center's CRM (customers, vehicles, service history, insurance, cases) from CSV."""
