"""Pure mappings from Prism models to CloudForet shapes (no I/O, no clock).

For inventory, `inventory` is the public door (cloud services, types,
regions, error resources); `cloud_service_types`, `layouts` and `regions`
hold its parts. Nothing here imports the Prism client.
"""
