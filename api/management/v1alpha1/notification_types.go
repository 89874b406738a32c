package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// NotificationReason says what a Notification tells.
// +kubebuilder:validation:Enum=AccessGranted
type NotificationReason string

const (
	// NotificationAccessGranted: the user gained access to a cluster or a
	// project, through a binding of their own or of one of their groups.
	NotificationAccessGranted NotificationReason = "AccessGranted"
)

// NotificationSpec is one message for one user. bokujo writes them; the
// user reads them in the UI (GET /v1/notifications) and, when a
// NotificationTarget is set up, in Slack or any webhook receiver.
type NotificationSpec struct {
	// user is the name of the User the notification is for.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	User string `json:"user"`

	// reason says what happened.
	// +required
	Reason NotificationReason `json:"reason"`

	// cluster the notification is about.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Cluster string `json:"cluster,omitempty"`

	// project the notification is about (access granted in a project).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Project string `json:"project,omitempty"`

	// roleTemplate granted.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	RoleTemplate string `json:"roleTemplate,omitempty"`

	// via is the group through which access came, empty for a binding of
	// the user.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Via string `json:"via,omitempty"`

	// binding is the binding that caused the notification, as
	// "<kind>/<name>".
	// +optional
	// +kubebuilder:validation:MaxLength=300
	Binding string `json:"binding,omitempty"`

	// message is what the user reads.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message"`
}

// NotificationDelivery records the delivery to one NotificationTarget.
type NotificationDelivery struct {
	// target is the NotificationTarget's name.
	Target string `json:"target"`
	// delivered is true once the receiver accepted the message.
	Delivered bool `json:"delivered"`
	// attempts so far.
	Attempts int32 `json:"attempts"`
	// lastAttemptTime is when the last attempt was made.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty"`
	// error of the last failed attempt.
	// +optional
	Error string `json:"error,omitempty"`
}

// NotificationStatus is the read and delivery state.
type NotificationStatus struct {
	// readTime is when the user marked it read.
	// +optional
	ReadTime *metav1.Time `json:"readTime,omitempty"`
	// deliveries to NotificationTargets.
	// +optional
	// +listType=map
	// +listMapKey=target
	// +kubebuilder:validation:MaxItems=32
	Deliveries []NotificationDelivery `json:"deliveries,omitempty"`
}

// Notification tells a user something that concerns them, such as access
// to a cluster they just gained.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bkn,categories=bokujo
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.user`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.spec.reason`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.cluster`
// +kubebuilder:printcolumn:name="Project",type=string,JSONPath=`.spec.project`
// +kubebuilder:printcolumn:name="Read",type=date,JSONPath=`.status.readTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Notification struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NotificationSpec   `json:"spec"`
	Status NotificationStatus `json:"status,omitempty"`
}

// NotificationList lists Notifications.
// +kubebuilder:object:root=true
type NotificationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Notification `json:"items"`
}

// NotificationTargetType is how a target receives messages.
// +kubebuilder:validation:Enum=Slack;Webhook
type NotificationTargetType string

const (
	// NotificationTargetSlack posts {"text": ...} to a Slack incoming
	// webhook.
	NotificationTargetSlack NotificationTargetType = "Slack"
	// NotificationTargetWebhook posts the notification as JSON.
	NotificationTargetWebhook NotificationTargetType = "Webhook"
)

// NotificationTargetURLKey is the key of the target's URL in its Secret
// (a Slack webhook URL is itself a credential).
const NotificationTargetURLKey = "url"

// NotificationTargetSpec is where notifications are sent besides the
// in-app feed.
type NotificationTargetSpec struct {
	// type is Slack or Webhook.
	// +required
	Type NotificationTargetType `json:"type"`

	// urlSecretRef names a Secret in bokujo-system whose "url" key holds
	// the https URL to POST to.
	// +required
	URLSecretRef SecretReference `json:"urlSecretRef"`

	// caData is a PEM bundle to trust for the receiver's certificate, for
	// receivers inside the company with a private CA.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CAData string `json:"caData,omitempty"`

	// disabled stops deliveries without deleting the target.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// NotificationTargetStatus reports the last delivery.
type NotificationTargetStatus struct {
	// conditions: Ready is True while the last delivery succeeded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NotificationTarget sends every new Notification (created after the
// target) to Slack or a webhook.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bknt,categories=bokujo
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Disabled",type=boolean,JSONPath=`.spec.disabled`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NotificationTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NotificationTargetSpec   `json:"spec"`
	Status NotificationTargetStatus `json:"status,omitempty"`
}

// NotificationTargetList lists NotificationTargets.
// +kubebuilder:object:root=true
type NotificationTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NotificationTarget `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &Notification{}, &NotificationList{}, &NotificationTarget{}, &NotificationTargetList{})
		return nil
	})
}
