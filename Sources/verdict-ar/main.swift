// The active-response entry point (design.md §6) is built by the Wazuh integration issue. Until then this
// executable says so and exits non-zero, so that a premature install fails loudly in active-responses.log.
import Foundation

FileHandle.standardError.write(Data("verdict-ar: the Wazuh active response is not built yet\n".utf8))
exit(1)
