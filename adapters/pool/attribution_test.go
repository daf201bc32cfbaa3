package pool

import (
	"testing"

	"smsgate/adapters/catalog"
)

// ownSMS are real-world shapes of each service's verification SMS (sender,
// text, the code in it), written here independently of the simulator's
// templates. The first service list is the issue's 20.
var ownSMS = map[string][]struct{ from, text, code string }{
	"tg": {
		{"Telegram", "Telegram code: 48213\n\nYou can also tap on this link to log in:\nhttps://t.me/login/48213", "48213"},
		{"+42777", "Login code: 59102. Do not give this code to anyone, even if they say they are from Telegram!", "59102"},
		{"Telegram", "Код подтверждения: 71120. Никому не давайте код, даже если его требуют от имени Telegram!", "71120"},
	},
	"wa": {
		{"WhatsApp", "Your WhatsApp code: 123-456\nDon't share this code with others\n4sgLq1p5sV6", "123456"},
		{"+447700900461", "<#> Your WhatsApp Business code 884-201. You can also tap this link to verify your phone: v.whatsapp.com/884201", "884201"},
	},
	"go": {
		{"Google", "G-583920 is your Google verification code.", "583920"},
		{"22000", "G-104387 is your verification code.", "104387"},
		{"+18554920123", "Your YouTube verification code is 662018", "662018"},
	},
	"fb": {
		{"FACEBOOK", "FB-48213 is your Facebook confirmation code", "48213"},
		{"32665", "74019 is your Facebook password reset code", "74019"},
	},
	"ig": {
		{"Instagram", "Use 123 456 to verify your Instagram account.", "123456"},
		{"32665", "406 219 is your Instagram code. Don't share it.", "406219"},
	},
	"tw": {
		{"Twitter", "Your Twitter confirmation code is 482193.", "482193"},
		{"40404", "482193 is your X verification code.", "482193"},
		{"X", "Your X login code is 771842. Don't reply to this message with your code.", "771842"},
	},
	"ds": {{"Discord", "Your Discord verification code is: 309112", "309112"}},
	"vk": {
		{"VK", "VK: 492118 — код подтверждения. Никому не говорите код!", "492118"},
		{"+79005553535", "Your VK ID confirmation code: 810392", "810392"},
	},
	"ok": {
		{"OK.ru", "Код подтверждения для OK.ru: 572019", "572019"},
		{"+79005553536", "Одноклассники: ваш код 610238", "610238"},
	},
	"mm": {
		{"Microsoft", "Use 4512 as Microsoft account security code", "4512"},
		{"+14255550100", "Your Outlook.com security code is 9021734", "9021734"},
	},
	"am": {{"Amazon", "904512 is your Amazon OTP. Do not share it with anyone.", "904512"}},
	"ub": {{"Uber", "Your Uber code: 4821. Never share this code. Reply STOP ALL to 89203 to unsubscribe.", "4821"}},
	"ts": {
		{"PayPal", "PayPal: Your security code is: 581203. It expires in 10 minutes. Don't share this code with anyone.", "581203"},
		{"729725", "PayPal: 660291 is your code. Don't share it.", "660291"},
	},
	"wb": {
		{"WeChat", "[WeChat] Your verification code is 381920. This code will expire in 10 minutes.", "381920"},
		{"+8610690000", "【微信】验证码 651209，请勿告诉他人。", "651209"},
	},
	"lf": {
		{"TikTok", "[TikTok] 451230 is your verification code, valid for 5 minutes. To keep your account safe, never forward this code.", "451230"},
		{"+8610690001", "【抖音】验证码 902146，用于手机号登录，5分钟内有效。", "902146"},
	},
	"ya": {
		{"Yandex", "Код подтверждения: 480213. Никому его не говорите — это нужно только мошенникам.", "480213"},
		{"+79005553537", "Your Yandex ID confirmation code: 220981", "220981"},
	},
	"av": {
		{"Avito", "Код подтверждения: 7190. Никому его не сообщайте.", "7190"},
		{"+79005553538", "Avito: никому не говорите этот код 6612", "6612"},
	},
	"mb": {{"Yahoo", "Use 58102931 to verify your Yahoo account.", "58102931"}},
	"nf": {{"Netflix", "Your Netflix verification code is 8811. Don't share this code.", "8811"}},
	"tn": {{"LinkedIn", "Your LinkedIn verification code is 904211.", "904211"}},
}

// issueServices are the 20 services the pool must tell apart.
var issueServices = []string{"tg", "wa", "go", "fb", "ig", "tw", "ds", "vk", "ok", "mm", "am", "ub", "ts", "wb", "lf", "ya", "av", "mb", "nf", "tn"}

// unattributed SMS name no service: they could be anyone's.
var unattributed = []struct{ from, text string }{
	{"+14155550123", "Your verification code is 482913"},
	{"56789", "Your code: 4829. Valid for 5 minutes."},
	{"Verify", "Your one-time passcode is 739102"},
	{"+14155550199", "Hi, it's Sam, call me back at 415 555 0199"},
	{"INFO", "Your order 55120 has shipped."},
}

func TestAttributionTableCoversTheIssueServices(t *testing.T) {
	for _, s := range issueServices {
		if _, ok := catalog.ServiceByCode(s); !ok {
			t.Errorf("%s is not a catalogue service", s)
		}
		if _, ok := services[s]; !ok {
			t.Errorf("no attribution for %s", s)
		}
		if len(ownSMS[s]) == 0 {
			t.Errorf("no test SMS for %s", s)
		}
	}
	for s := range services {
		if _, ok := catalog.ServiceByCode(s); !ok {
			t.Errorf("attribution table has %s, not a catalogue service", s)
		}
	}
}

// TestAttribution: each service's own SMS is its own and every other
// service's foreign; SMS that name nobody are unattributed for everyone.
func TestAttribution(t *testing.T) {
	a := NewAttributor(nil)
	e, err := NewExtractor(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range issueServices {
		for _, m := range ownSMS[svc] {
			if v := a.Judge(svc, m.from, m.text); v != Own {
				t.Errorf("%s: %q from %s is %s; want own", svc, m.text, m.from, v)
			}
			if got := e.Code(svc, m.text); got != m.code {
				t.Errorf("%s: code in %q = %q; want %q", svc, m.text, got, m.code)
			}
			for _, other := range issueServices {
				if other == svc {
					continue
				}
				if v := a.Judge(other, m.from, m.text); v != Foreign {
					t.Errorf("%s's %q from %s is %s to %s; want foreign", svc, m.text, m.from, v, other)
				}
			}
		}
	}
	for _, m := range unattributed {
		for _, svc := range issueServices {
			if v := a.Judge(svc, m.from, m.text); v != Unattributed {
				t.Errorf("%q from %s is %s to %s; want unattributed", m.text, m.from, v, svc)
			}
		}
	}
}

func TestAttributionEdges(t *testing.T) {
	a := NewAttributor(map[string][]string{"tg": {"+42777"}})
	for _, c := range []struct {
		service, from, text string
		want                Verdict
	}{
		// The issue's case: Google's SMS is not Telegram's, whatever its wording.
		{"tg", "Google", "Google code: 806541. Do not share it.", Foreign},
		{"tg", "+14155550100", "Google code: 806541. Do not share it.", Foreign},
		// A sender of one service with another's text names both.
		{"tg", "Telegram", "G-123456 is your Google verification code", Foreign},
		{"go", "Telegram", "G-123456 is your Google verification code", Foreign},
		// Google Voice is another service, not Google.
		{"go", "+12025550100", "Your Google Voice verification code is 123456", Foreign},
		{"gf", "+12025550100", "Your Google Voice verification code is 123456", Own},
		// A short code shared by two services is either one's, no other's.
		{"ig", "32665", "406219 is your code", Own},
		{"fb", "32665", "406219 is your code", Own},
		{"tg", "32665", "406219 is your code", Foreign},
		// The operator's senders list attributes, both ways.
		{"tg", "+42777", "Login code: 59102", Own},
		{"wa", "+42777", "Login code: 59102", Foreign},
		// Brand words need their word boundaries: no VK in "VKontaktless",
		// no X in "Xmas", no Uber in "Überweisung", no OK in "ok".
		{"tg", "Bank", "VKontaktless payment code 1234", Unattributed},
		{"tg", "Shop", "Xmas sale code 1234", Unattributed},
		{"tg", "Shop", "ok, your code is 1234", Unattributed},
		{"tg", "Bank", "Poor signal? Your code is 1234", Unattributed},
	} {
		if got := a.Judge(c.service, c.from, c.text); got != c.want {
			t.Errorf("Judge(%s, %q, %q) = %s; want %s", c.service, c.from, c.text, got, c.want)
		}
	}
}

// TestCatalogNamesSpeakForTheirOwnService: a catalogue service outside the
// table is attributed by its name, and its name refuses nothing.
func TestCatalogNamesSpeakForTheirOwnService(t *testing.T) {
	a := NewAttributor(nil)
	for _, c := range []struct {
		service, from, text string
		want                Verdict
	}{
		{"dr", "OpenAI", "Your verification code is 123456", Own},
		{"dr", "+14155550100", "Your OpenAI code is 123456", Own},
		{"acz", "+14155550100", "Your Anthropic verification code is 123456", Own},
		{"dr", "+14155550100", "Your Anthropic verification code is 123456", Unattributed},
		{"tg", "Telegram", "Telegram code: 12345. Be wise: share it with no one.", Own}, // "Wise" is a service, but not against Telegram
		{"dr", "Telegram", "Telegram code: 12345", Foreign},
		{"hw", "+8610690000", "Your code is 1688", Unattributed}, // "1688" is a number, not a name
	} {
		if got := a.Judge(c.service, c.from, c.text); got != c.want {
			t.Errorf("Judge(%s, %q, %q) = %s; want %s", c.service, c.from, c.text, got, c.want)
		}
	}
}

// FuzzJudge: any sender and text (upstream garbage included) gets a
// verdict for every service without panicking, and at most one table
// service can call a named SMS its own unless a shared sender serves both.
func FuzzJudge(f *testing.F) {
	for _, list := range ownSMS {
		for _, m := range list {
			f.Add(m.from, m.text)
		}
	}
	for _, m := range unattributed {
		f.Add(m.from, m.text)
	}
	f.Add("", "")
	f.Add("\xff\xfe", "G-\xff123456 Telegram\x00")
	a := NewAttributor(map[string][]string{"tg": {"+42777"}})
	e, err := NewExtractor(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, from, text string) {
		var own []string
		for _, svc := range issueServices {
			if a.Judge(svc, from, text) == Own {
				own = append(own, svc)
			}
			for _, c := range e.Code(svc, text) {
				if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
					t.Fatalf("Code(%s, %q) has %q", svc, text, c)
				}
			}
		}
		if len(own) > 1 && normSender(from) != "32665" {
			t.Fatalf("%q from %q is the own SMS of %v", text, from, own)
		}
	})
}
