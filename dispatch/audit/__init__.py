"""The access audit (UU PDP No. 27/2022): who saw callers' full numbers, played a recording or exported personal
data, and when; append-only."""
