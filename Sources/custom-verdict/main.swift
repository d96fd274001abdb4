// The integratord entry point (design.md §6) is built by the Wazuh integration issue. Until then this
// executable says so and exits non-zero, so that a premature install fails loudly in integrations.log.
import Foundation

FileHandle.standardError.write(Data("custom-verdict: the Wazuh integration is not built yet\n".utf8))
exit(1)
