import VerdictRelay

// wazuh-integratord runs this once per matching alert: `integrations ALERT_FILE API_KEY HOOK_URL …`. It hands
// the run to the warm Verdict engine beside it, or becomes the engine's cold run (Relay explains both).
Relay.main(.integration)
