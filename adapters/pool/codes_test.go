package pool

import "testing"

func TestExtractor(t *testing.T) {
	e, err := NewExtractor(map[string]string{"ds": `Discord (\d{4})`, "vk": `VK: ([A-Z0-9]{5})`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		service, text, want string
	}{
		{"tg", "Telegram code: 48213", "48213"},
		{"tg", "Login code 482133. Do not give this code to anyone, even if they say they are from Telegram! 2026", "482133"},
		{"tg", "Your bank balance 12345678 RUB", "12345678"}, // no Telegram format: the first run of digits
		{"wa", "Ref 20261128: your WhatsApp code 123-456", "123456"},
		{"go", "G-583920 is your Google verification code.", "583920"},
		{"fb", "FB-48213 is your Facebook confirmation code", "48213"},
		{"ig", "Use 123 456 to verify your Instagram account.", "123456"},
		{"ds", "Order 99999999: Discord 7777", "7777"},                  // override
		{"vk", "VK: AB12C is your code", "AB12C"},                       // override, letters kept
		{"am", "Your Amazon OTP is 904512. Do not share it.", "904512"}, // no pattern: digits
		{"am", "Hello there", ""},
	} {
		if got := e.Code(tc.service, tc.text); got != tc.want {
			t.Errorf("Code(%s, %q) = %q; want %q", tc.service, tc.text, got, tc.want)
		}
	}
	if _, err := NewExtractor(map[string]string{"tg": "("}); err == nil {
		t.Error("a broken pattern was accepted")
	}
}
