// Package adapters holds what every upstream SMS platform shares inside the
// gateway: the Platform interface the router consumes, the canonical model
// (countries, services, money, order states) and the canonical errors each
// adapter maps its platform's answers to.
package adapters
