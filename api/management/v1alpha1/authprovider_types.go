package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Reasons of an AuthProvider's Ready condition. They name the step that
// failed, so an administrator knows whether to look at DNS, certificates,
// credentials or the directory layout.
const (
	// AuthProviderReasonConnected: the last connection test succeeded.
	AuthProviderReasonConnected = "Connected"
	// AuthProviderReasonDisabled: spec.state is Disabled; nobody logs in
	// through the provider.
	AuthProviderReasonDisabled = "Disabled"
	// AuthProviderReasonInvalidConfig: the spec or a Secret it names is
	// unusable (missing key, unparsable CA).
	AuthProviderReasonInvalidConfig = "InvalidConfig"
	// AuthProviderReasonDNSFailed: the provider's host name does not resolve.
	AuthProviderReasonDNSFailed = "DNSFailed"
	// AuthProviderReasonConnectFailed: the host resolved but refused or did
	// not answer the connection.
	AuthProviderReasonConnectFailed = "ConnectFailed"
	// AuthProviderReasonTLSFailed: the TLS handshake failed, usually a
	// certificate the configured CA does not sign or a wrong host name.
	AuthProviderReasonTLSFailed = "TLSFailed"
	// AuthProviderReasonBindFailed: the LDAP server refused the service
	// account's bind DN or password.
	AuthProviderReasonBindFailed = "BindFailed"
	// AuthProviderReasonBaseDNNotFound: an LDAP base DN does not exist.
	AuthProviderReasonBaseDNNotFound = "BaseDNNotFound"
	// AuthProviderReasonDiscoveryFailed: the OIDC discovery document could
	// not be read or names another issuer.
	AuthProviderReasonDiscoveryFailed = "DiscoveryFailed"
	// AuthProviderReasonMissingClaim: ID tokens lack the configured
	// username or groups claim.
	AuthProviderReasonMissingClaim = "MissingClaim"
)

// AuthProviderType is the protocol of an identity provider.
// +kubebuilder:validation:Enum=OIDC;LDAP;GitHub
type AuthProviderType string

const (
	// AuthProviderOIDC is an OpenID Connect provider.
	AuthProviderOIDC AuthProviderType = "OIDC"
	// AuthProviderLDAP is an LDAP directory or Active Directory.
	AuthProviderLDAP AuthProviderType = "LDAP"
	// AuthProviderGitHub is github.com or a GitHub Enterprise Server.
	AuthProviderGitHub AuthProviderType = "GitHub"
)

// AuthProviderState says whether people may log in through a provider.
// +kubebuilder:validation:Enum=Enabled;Disabled
type AuthProviderState string

const (
	// AuthProviderEnabled providers are offered on the login page.
	AuthProviderEnabled AuthProviderState = "Enabled"
	// AuthProviderDisabled providers refuse logins; the users they created
	// and their sessions stay, so that enabling it again restores them.
	AuthProviderDisabled AuthProviderState = "Disabled"
)

// Keys of the Secrets an AuthProvider refers to.
const (
	// ClientSecretSecretKey holds an OAuth client secret.
	ClientSecretSecretKey = "clientSecret"
	// BindPasswordSecretKey holds an LDAP service account's password.
	BindPasswordSecretKey = "bindPassword"
)

// AuthProviderSpec configures one external identity provider.
// +kubebuilder:validation:XValidation:rule="[has(self.oidc), has(self.ldap), has(self.github)].filter(x, x).size() == 1",message="exactly one of oidc, ldap or github must be set"
// +kubebuilder:validation:XValidation:rule="(self.type == 'OIDC') == has(self.oidc) && (self.type == 'LDAP') == has(self.ldap) && (self.type == 'GitHub') == has(self.github)",message="the settings must match the type"
// +kubebuilder:validation:XValidation:rule="self.type == oldSelf.type",message="type is immutable: users are keyed by provider and subject, and subjects of another protocol would not match"
type AuthProviderSpec struct {
	// type is OIDC, LDAP or GitHub.
	// +required
	Type AuthProviderType `json:"type"`

	// state is Enabled or Disabled.
	// +optional
	// +kubebuilder:default=Enabled
	State AuthProviderState `json:"state,omitempty"`

	// displayName is the label of the provider's login button.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	DisplayName string `json:"displayName,omitempty"`

	// oidc configures an OpenID Connect provider.
	// +optional
	OIDC *OIDCProviderSpec `json:"oidc,omitempty"`

	// ldap configures an LDAP directory or Active Directory.
	// +optional
	LDAP *LDAPProviderSpec `json:"ldap,omitempty"`

	// github configures github.com or a GitHub Enterprise Server.
	// +optional
	GitHub *GitHubProviderSpec `json:"github,omitempty"`
}

// OIDCProviderSpec configures an OpenID Connect provider. A user is keyed by
// the issuer's "sub" claim, which the specification makes stable and never
// reassigned; usernameClaim only chooses what people see.
type OIDCProviderSpec struct {
	// issuerURL is the provider's issuer; its discovery document is read
	// from <issuerURL>/.well-known/openid-configuration. HTTPS only.
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://')",message="the issuer must be an https URL"
	IssuerURL string `json:"issuerURL"`

	// clientID is bokujo's client id at the provider.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ClientID string `json:"clientID"`

	// clientSecretRef names the Secret whose "clientSecret" key holds the
	// client secret. Public clients (PKCE only) have none.
	// +optional
	ClientSecretRef *SecretReference `json:"clientSecretRef,omitempty"`

	// scopes are requested besides "openid". Default: profile, email,
	// groups, offline_access (the refresh token lets bokujo read the groups
	// again without the user; without it they change at the next login).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	Scopes []string `json:"scopes,omitempty"`

	// usernameClaim is the claim shown as the user's name. Default
	// "preferred_username", falling back to "sub".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	UsernameClaim string `json:"usernameClaim,omitempty"`

	// groupsClaim is the claim listing the user's groups. Default "groups";
	// a token without it gives the user no external groups.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	GroupsClaim string `json:"groupsClaim,omitempty"`

	// groupPrefix is put before every group name, e.g. "oidc:", so that two
	// providers' groups of one name do not grant each other's rights.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	GroupPrefix string `json:"groupPrefix,omitempty"`

	// caData is a PEM bundle of the CAs that sign the provider's
	// certificate, when the system roots do not.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CAData string `json:"caData,omitempty"`
}

// LDAPProviderSpec configures an LDAP directory. Users are keyed by their
// entry's DN as the subject only when the server offers no stable id;
// bokujo prefers entryUUID (OpenLDAP) or objectGUID (Active Directory).
// +kubebuilder:validation:XValidation:rule="!(has(self.startTLS) && self.startTLS && self.url.startsWith('ldaps://'))",message="startTLS needs an ldap:// URL; ldaps:// is TLS already"
// +kubebuilder:validation:XValidation:rule="!(has(self.groupSearch) && has(self.memberOfAttribute))",message="groups come from either groupSearch or memberOfAttribute"
type LDAPProviderSpec struct {
	// url is ldap://host[:port] or ldaps://host[:port].
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^ldaps?://[^/?#]+/?$`
	URL string `json:"url"`

	// startTLS upgrades an ldap:// connection to TLS before any bind, so
	// no password crosses the network in clear.
	// +optional
	StartTLS bool `json:"startTLS,omitempty"`

	// caData is a PEM bundle of the CAs that sign the server's certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CAData string `json:"caData,omitempty"`

	// bindDN is the service account that searches for users.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	BindDN string `json:"bindDN"`

	// bindPasswordRef names the Secret whose "bindPassword" key holds the
	// service account's password.
	// +required
	BindPasswordRef SecretReference `json:"bindPasswordRef"`

	// userBaseDN is where users are searched, in the whole subtree.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	UserBaseDN string `json:"userBaseDN"`

	// userFilter finds the user; {username} is replaced by the typed name,
	// escaped. Default "(uid={username})"; for Active Directory
	// "(sAMAccountName={username})".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.contains('{username}')",message="the filter must contain {username}"
	UserFilter string `json:"userFilter,omitempty"`

	// usernameAttribute is the attribute shown as the user's name. Default "uid".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UsernameAttribute string `json:"usernameAttribute,omitempty"`

	// displayNameAttribute is the attribute shown as the display name.
	// Default "cn".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	DisplayNameAttribute string `json:"displayNameAttribute,omitempty"`

	// groupSearch finds the groups listing the user as a member.
	// +optional
	GroupSearch *LDAPGroupSearch `json:"groupSearch,omitempty"`

	// memberOfAttribute reads the groups from an attribute of the user's
	// entry holding group DNs, such as "memberOf".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	MemberOfAttribute string `json:"memberOfAttribute,omitempty"`

	// nestedGroups also counts groups the user belongs to through other
	// groups, with Active Directory's LDAP_MATCHING_RULE_IN_CHAIN. Servers
	// without that rule (OpenLDAP) are walked level by level instead.
	// +optional
	NestedGroups bool `json:"nestedGroups,omitempty"`

	// groupPrefix is put before every group name, e.g. "ldap:".
	// +optional
	// +kubebuilder:validation:MaxLength=32
	GroupPrefix string `json:"groupPrefix,omitempty"`
}

// LDAPGroupSearch finds a user's groups by searching group entries.
type LDAPGroupSearch struct {
	// baseDN is where groups are searched, in the whole subtree.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	BaseDN string `json:"baseDN"`

	// filter finds the groups of a user; {dn} is replaced by the user's
	// DN, escaped. Default "(member={dn})"; for posixGroup
	// "(memberUid={username})".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Filter string `json:"filter,omitempty"`

	// nameAttribute is the group attribute used as the group's name.
	// Default "cn".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	NameAttribute string `json:"nameAttribute,omitempty"`
}

// GitHubProviderSpec configures login with GitHub. Users are keyed by
// GitHub's numeric user id, which survives a change of login.
type GitHubProviderSpec struct {
	// baseURL is a GitHub Enterprise Server's address; empty means
	// github.com (web https://github.com, API https://api.github.com).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://')",message="the base URL must be an https URL"
	BaseURL string `json:"baseURL,omitempty"`

	// clientID is the OAuth app's client id.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ClientID string `json:"clientID"`

	// clientSecretRef names the Secret whose "clientSecret" key holds the
	// OAuth app's client secret.
	// +required
	ClientSecretRef SecretReference `json:"clientSecretRef"`

	// allowedOrganizations, when set, admits only members of one of them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=39
	AllowedOrganizations []string `json:"allowedOrganizations,omitempty"`

	// teamsAsGroups adds "<org>/<team-slug>" groups besides the "<org>"
	// groups.
	// +optional
	TeamsAsGroups bool `json:"teamsAsGroups,omitempty"`

	// groupPrefix is put before every group name, e.g. "github:".
	// +optional
	// +kubebuilder:validation:MaxLength=32
	GroupPrefix string `json:"groupPrefix,omitempty"`

	// caData is a PEM bundle of the CAs that sign a GitHub Enterprise
	// Server's certificate, when the system roots do not.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CAData string `json:"caData,omitempty"`
}

// AuthProviderStatus is what bokujo last observed about a provider.
type AuthProviderStatus struct {
	// conditions: Ready, True when the last connection test succeeded.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// lastTestTime is when the connection was last tested.
	// +optional
	LastTestTime *metav1.Time `json:"lastTestTime,omitempty"`
}

// AuthProvider is an external identity provider users log in through. Its
// name is the provider's id in login URLs and in users' spec.identities.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bkap,categories=bokujo
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="a provider name must be a DNS label: users' identities refer to it"
type AuthProvider struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec configures the provider.
	// +required
	Spec AuthProviderSpec `json:"spec"`

	// status is what bokujo last observed.
	// +optional
	Status AuthProviderStatus `json:"status,omitempty"`
}

// AuthProviderList is a list of AuthProviders.
// +kubebuilder:object:root=true
type AuthProviderList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuthProvider `json:"items"`
}

// AuthProvider is registered beside its type; SchemeBuilder runs every
// registered function, so the scheme sees it like the other kinds.
func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &AuthProvider{}, &AuthProviderList{})
		return nil
	})
}
