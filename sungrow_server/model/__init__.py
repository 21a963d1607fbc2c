"""What a stored sample is and what is derived from it: its columns, local time, energy
and the rollup levels. Shared by ingest, series and the schema; imports no room."""
