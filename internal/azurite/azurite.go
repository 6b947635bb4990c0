// Package azurite names the Azure Storage emulator's well-known development account, which the
// tests of the Azure backends and the end-to-end tests use (scripts/services/azurite.sh starts
// the emulator). Its key is public: Azurite documents it, and it opens nothing but the emulator.
package azurite

// Account and Key are the development account's name and key.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ConnectionString returns the account's connection string with the given service endpoints
// (an empty one is left out).
func ConnectionString(blobURL, queueURL string) string {
	cs := "DefaultEndpointsProtocol=http;AccountName=" + Account + ";AccountKey=" + Key + ";"
	if blobURL != "" {
		cs += "BlobEndpoint=" + blobURL + ";"
	}
	if queueURL != "" {
		cs += "QueueEndpoint=" + queueURL + ";"
	}
	return cs
}
