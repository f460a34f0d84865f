"""The merchant's KPI report: after-sales figures of a period, as JSON, charts and one HTML page.

`figures` computes the figures from what the record service serves (pure, no I/O),
`charts` draws them, `page` renders the self-contained HTML page, `records_api` fetches
the inputs and `python -m reporting` does it all for a period (see `__main__`).
"""
