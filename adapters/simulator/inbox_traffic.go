package simulator

import (
	"fmt"
	"strings"

	"smsgate/adapters/catalog"
)

// What a simulated pool number receives. A real number someone else had
// before, or that anyone can text, gets every service's SMS: a Telegram
// code for the order that leased it, and also Google's code for someone
// who typed the number in last month, a bank's notice, a wrong number.
// The simulator sends each service's SMS as that service does (its sender
// and wording) and records which service it sent each one for
// (InboxSMS.Service), so a test can tell a wrong code from a right one
// without asking the gateway.

// serviceForm is one way a service words its verification SMS: from is
// the sender, text a format with one %s for the code as shown.
type serviceForm struct{ from, text string }

// serviceFormat is how a service sends its codes.
type serviceFormat struct {
	digits int                      // length of the code
	show   func(code string) string // the code as it appears in the text; nil: as is
	forms  []serviceForm
}

func split3(c string) (string, string) { return c[:3], c[3:] }

// serviceFormats are the real senders and wordings of the services pool
// traffic uses (the 20 most common ones).
var serviceFormats = map[string]serviceFormat{
	"tg": {digits: 5, forms: []serviceForm{
		{"Telegram", "Telegram code: %s\n\nYou can also tap on this link to log in:\nhttps://t.me/login/%[1]s\n\nAzRaS2vdlH"},
		{"Telegram", "Login code: %s. Do not give this code to anyone, even if they say they are from Telegram!\n\nThis code can be used to log in to your Telegram account. We never ask it for anything else."},
		{"Telegram", "Код для входа в Telegram: %s. Не давайте код никому, даже если его требуют от имени Telegram!"},
	}},
	"wa": {digits: 6, show: func(c string) string { a, b := split3(c); return a + "-" + b }, forms: []serviceForm{
		{"WhatsApp", "Your WhatsApp code: %s\nDon't share this code with others\n4sgLq1p5sV6"},
		{"+447700900461", "<#> WhatsApp code %s\nYou can also tap on this link to verify your phone: v.whatsapp.com/%[1]s\nDon't share this code with others"},
	}},
	"go": {digits: 6, forms: []serviceForm{
		{"Google", "G-%s is your Google verification code."},
		{"22000", "G-%s is your Google verification code. Don't share it with anyone."},
		{"Google", "Your YouTube verification code is %s"},
	}},
	"fb": {digits: 5, forms: []serviceForm{
		{"FACEBOOK", "FB-%s is your Facebook confirmation code"},
		{"32665", "%s is your Facebook password reset code"},
	}},
	"ig": {digits: 6, show: func(c string) string { a, b := split3(c); return a + " " + b }, forms: []serviceForm{
		{"Instagram", "Use %s to verify your Instagram account."},
		{"Instagram", "%s is your Instagram code. Don't share it."},
	}},
	"tw": {digits: 6, forms: []serviceForm{
		{"Twitter", "Your Twitter confirmation code is %s."},
		{"40404", "%s is your X verification code."},
	}},
	"ds": {digits: 6, forms: []serviceForm{{"Discord", "Your Discord verification code is: %s"}}},
	"vk": {digits: 6, forms: []serviceForm{
		{"VK", "VK: %s — код подтверждения. Никому не говорите код!"},
		{"VK", "Your VK ID confirmation code: %s"},
	}},
	"ok": {digits: 6, forms: []serviceForm{
		{"OK.ru", "Код подтверждения для OK.ru: %s"},
		{"OK.ru", "%s - your OK.ru verification code"},
	}},
	"mm": {digits: 4, forms: []serviceForm{
		{"Microsoft", "Use %s as Microsoft account security code"},
	}},
	"am": {digits: 6, forms: []serviceForm{{"Amazon", "%s is your Amazon OTP. Do not share it with anyone."}}},
	"ub": {digits: 4, forms: []serviceForm{{"Uber", "Your Uber code: %s. Never share this code. Reply STOP ALL to 89203 to unsubscribe."}}},
	"ts": {digits: 6, forms: []serviceForm{
		{"PayPal", "PayPal: Your security code is: %s. It expires in 10 minutes. Don't share this code with anyone."},
	}},
	"wb": {digits: 6, forms: []serviceForm{
		{"WeChat", "[WeChat] Your verification code is %s. This code will expire in 10 minutes. Do not share it with anyone."},
		{"+8610690000", "【微信】验证码 %s，请勿告诉他人。"},
	}},
	"lf": {digits: 6, forms: []serviceForm{
		{"TikTok", "[TikTok] %s is your verification code, valid for 5 minutes. To keep your account safe, never forward this code."},
		{"+8610690001", "【抖音】验证码 %s，用于手机号登录，5分钟内有效。"},
	}},
	"ya": {digits: 6, forms: []serviceForm{
		{"Yandex", "Код подтверждения: %s. Никому его не говорите — это нужно только мошенникам."},
		{"Yandex", "Your Yandex ID confirmation code: %s"},
	}},
	"av": {digits: 4, forms: []serviceForm{{"Avito", "Код подтверждения: %s. Никому его не сообщайте."}}},
	"mb": {digits: 6, forms: []serviceForm{{"Yahoo", "%s is your Yahoo verification code."}}},
	"nf": {digits: 4, forms: []serviceForm{{"Netflix", "Your Netflix verification code is %s. Don't share this code."}}},
	"tn": {digits: 6, forms: []serviceForm{{"LinkedIn", "Your LinkedIn verification code is %s."}}},
}

// TrafficServices are the services whose SMS pool numbers receive on
// their own (Config.InboxEvery), sorted.
var TrafficServices = []string{"am", "av", "ds", "fb", "go", "ig", "lf", "mb", "mm", "nf", "ok", "tg", "tn", "ts", "tw", "ub", "vk", "wa", "wb", "ya"}

// noiseForms are SMS nobody can place: no service's sender, no service's
// name. %s, where there is one, is a run of digits.
var noiseForms = []serviceForm{
	{"+14155550123", "Your verification code is %s"},
	{"56789", "Your code: %s. Valid for 5 minutes."},
	{"Verify", "Your one-time passcode is %s"},
	{"+14155550199", "Hi, it's Sam, call me back at 415 555 0199"},
	{"INFO", "Your order %s has shipped."},
	{"BANK", "Card *4821 debited 12.50 USD. Balance 1034.22 USD. Ref %s"},
}

// ServiceSMS is service's verification SMS for code (digits), in its
// form number variant (any int: it wraps): the sender and the text. A
// catalogue service without a known format sends "Your <name>
// verification code is <code>" from its name.
func ServiceSMS(service, code string, variant int) (from, text string) {
	f, ok := serviceFormats[service]
	if !ok {
		name := service
		if s, ok := catalog.ServiceByCode(service); ok {
			name = strings.TrimSpace(strings.FieldsFunc(s.Name, func(r rune) bool { return r == '/' || r == '(' })[0])
		}
		return name, fmt.Sprintf("Your %s verification code is %s", name, code)
	}
	form := f.forms[(variant%len(f.forms)+len(f.forms))%len(f.forms)]
	shown := code
	if f.show != nil {
		shown = f.show(code)
	}
	return form.from, fmt.Sprintf(form.text, shown)
}

// codeDigits is how long service's codes are.
func codeDigits(service string) int {
	if f, ok := serviceFormats[service]; ok {
		return f.digits
	}
	return 6
}

// drawDigits draws an n-digit code (no leading zero). The caller holds m.mu.
func (m *Market) drawDigits(n int) string {
	lo := 1
	for range n - 1 {
		lo *= 10
	}
	return fmt.Sprint(lo + m.rng.IntN(9*lo))
}

// serviceSMSLocked draws a code for service and words it. The caller holds m.mu.
func (m *Market) serviceSMSLocked(service string) (from, text, code string) {
	code = m.drawDigits(codeDigits(service))
	from, text = ServiceSMS(service, code, m.rng.IntN(8))
	return from, text, code
}

// trafficSMSLocked is one SMS of the numbers' own traffic: mostly some
// service's code, sometimes noise (Service ""). The caller holds m.mu.
func (m *Market) trafficSMSLocked() (service, from, text, code string) {
	if m.rng.IntN(6) == 0 {
		f := noiseForms[m.rng.IntN(len(noiseForms))]
		text = f.text
		if strings.Contains(text, "%s") {
			text = fmt.Sprintf(text, m.drawDigits(6))
		}
		return "", f.from, text, ""
	}
	service = TrafficServices[m.rng.IntN(len(TrafficServices))]
	from, text, code = m.serviceSMSLocked(service)
	return service, from, text, code
}
