import VerdictRelay

// wazuh-execd runs this with one JSON message on standard input (which it keeps open). It hands the run to the
// warm Verdict engine beside it, or becomes the engine's cold run (Relay explains both).
Relay.main(.activeResponse)
