package adapters

// ExtractCode returns the first run of 4 to 8 digits in text, or "": the
// code in an SMS whose platform sends only the text, or whose own
// extraction came back empty. Longer runs (phone numbers, order ids) are
// passed over.
func ExtractCode(text string) string {
	start := -1
	for i := 0; i <= len(text); i++ {
		digit := i < len(text) && text[i] >= '0' && text[i] <= '9'
		if digit && start < 0 {
			start = i
		}
		if !digit && start >= 0 {
			if n := i - start; n >= 4 && n <= 8 {
				return text[start:i]
			}
			start = -1
		}
	}
	return ""
}
