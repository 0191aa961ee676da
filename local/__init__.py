"""The embedded local runtime: moto as the local AWS, the Chalice app served over HTTP.

Development only: nothing here is packaged into the Lambda zip.
"""
