import Foundation

/// Every visible string of the admin pages, in Arabic and English, in one table. Pages receive the whole
/// table for their language as `t` (`#(t.sign_in)` in a template); Swift code reads `Strings.text(_:_:)`.
enum Strings {
    static let table: [String: (ar: String, en: String)] = [
        // Frame
        "app_name": ("مُعين — مركز التكاملات", "Moeen Hub"),
        "skip_to_content": ("تخطَّ إلى المحتوى", "Skip to content"),
        "switch_language": ("English", "العربية"),
        "signed_in_as": ("مسجَّل الدخول باسم", "Signed in as"),
        "sign_out": ("تسجيل الخروج", "Sign out"),
        "main_nav": ("التنقل الرئيسي", "Main navigation"),
        "settings_title": ("الإعدادات", "Settings"),
        "tabs_label": ("أقسام الإعدادات", "Settings sections"),
        "tab_general": ("عام", "General"),
        "tab_integrations": ("التكاملات", "Integrations"),
        "tab_users": ("المستخدمون", "Users"),
        "tab_alerts": ("التنبيهات", "Alerts"),
        "tab_security": ("الأمان", "Security"),
        "role_admin": ("مسؤول", "Administrator"),
        "role_manager": ("مدير", "Manager"),
        "role_staff": ("موظف", "Staff"),
        "role_viewer": ("مشاهد", "Viewer"),
        "yes": ("نعم", "Yes"),
        "no": ("لا", "No"),
        "never": ("لم يُختبر بعد", "Never tested"),
        "none": ("—", "—"),
        "saved": ("تم الحفظ.", "Saved."),
        "required_mark": ("مطلوب", "required"),
        "fix_errors": ("يرجى تصحيح الحقول المشار إليها.", "Please correct the marked fields."),

        // Sign-in
        "login_title": ("تسجيل الدخول", "Sign in"),
        "login_intro": ("سجّل الدخول لإدارة تكاملات المركز.", "Sign in to manage the centre's integrations."),
        "email": ("البريد الإلكتروني", "E-mail"),
        "password": ("كلمة المرور", "Password"),
        "sign_in": ("دخول", "Sign in"),
        "login_failed": ("البريد الإلكتروني أو كلمة المرور غير صحيحة.", "The e-mail address or password is not correct."),
        "login_rate_limited": (
            "محاولات دخول فاشلة كثيرة من هذا العنوان. حاول مجدداً بعد ١٥ دقيقة.",
            "Too many failed sign-in attempts from this address. Try again in 15 minutes."
        ),
        "login_form_expired": ("انتهت صلاحية النموذج؛ أعد المحاولة.", "The form expired; please try again."),
        "signed_out": ("تم تسجيل الخروج.", "You have signed out."),

        // Errors
        "forbidden_title": ("لا تملك صلاحية لهذه الصفحة", "You don't have access to this"),
        "forbidden_body": ("هذا الإجراء يتطلب دوراً أعلى. اطلب من مسؤول النظام منحك الصلاحية.",
                           "This needs a higher role. Ask an administrator to grant it."),
        "csrf_title": ("تعذّر التحقق من الطلب", "The request could not be verified"),
        "csrf_body": ("أُرسل النموذج دون رمز الحماية الصحيح. أعد تحميل الصفحة وحاول مجدداً.",
                      "The form was sent without its valid protection token. Reload the page and try again."),
        "not_found_title": ("الصفحة غير موجودة", "Page not found"),
        "error_title": ("حدث خطأ", "Something went wrong"),
        "back_to_settings": ("العودة إلى الإعدادات", "Back to settings"),

        // Setup
        "setup_title": ("إعداد مُعين: إنشاء المسؤول الأول", "Moeen Hub setup: create the first administrator"),
        "setup_intro": ("أنشئ حساب المسؤول الأول. يُستخدم هذا الرابط مرة واحدة.",
                        "Create the first administrator account. This link works once."),
        "name": ("الاسم", "Name"),
        "password_hint": ("١٠ أحرف على الأقل", "at least 10 characters"),
        "password_confirmation": ("تأكيد كلمة المرور", "Confirm password"),
        "create_admin": ("إنشاء المسؤول", "Create administrator"),
        "setup_done_title": ("تم إنشاء المسؤول الأول", "The first administrator has been created"),
        "setup_done_body": ("يمكنك الآن تسجيل الدخول بالبريد", "You can now sign in as"),
        "setup_expired_title": ("رابط الإعداد غير صالح", "This setup link is not valid"),
        "setup_expired_body": (
            "انتهت صلاحية الرابط أو استُخدم من قبل. أعد تشغيل الخدمة للحصول على رابط جديد ما دام لا يوجد مستخدم، أو أنشئ مستخدماً بالأمر moeen users create.",
            "This setup link has expired or was already used. Restart the service for a new link while no user exists, or create a user with moeen users create."
        ),
        "passwords_differ": ("كلمتا المرور مختلفتان.", "The two passwords differ."),

        // General
        "general_heading": ("نظرة عامة", "Overview"),
        "general_intro": ("مُعين يدير اتصالات المركز بالمزوّدين الخارجيين ويتابع سلامتها.",
                          "Moeen Hub keeps the centre's connections to outside providers and watches their health."),
        "environment": ("البيئة", "Environment"),
        "public_url": ("العنوان العام", "Public URL"),
        "not_set": ("غير مضبوط", "not set"),
        "database": ("قاعدة البيانات", "Database"),
        "integrations_enabled": ("التكاملات المفعّلة", "Enabled integrations"),
        "integrations_healthy": ("التكاملات السليمة", "Healthy integrations"),
        "health_interval": ("فترة فحص السلامة", "Health check interval"),
        "seconds": ("ثانية", "seconds"),

        // Integrations list
        "integrations_heading": ("التكاملات", "Integrations"),
        "integrations_intro": ("كل اتصال بمزوّد خارجي، وحالته، ونتيجة آخر اختبار.",
                               "Every connection to an outside provider, its state and its last test."),
        "col_integration": ("التكامل", "Integration"),
        "col_enabled": ("مفعّل", "Enabled"),
        "col_status": ("الحالة", "Status"),
        "col_health": ("السلامة", "Health"),
        "col_last_test": ("آخر اختبار", "Last test"),
        "col_result": ("النتيجة", "Result"),
        "open": ("فتح", "Open"),
        "enabled": ("مفعّل", "Enabled"),
        "disabled": ("معطّل", "Disabled"),
        "status_active": ("نشط", "Active"),
        "status_inactive": ("غير نشط", "Inactive"),
        "status_error": ("خطأ", "Error"),
        "status_testing": ("قيد الاختبار", "Testing"),
        "result_success": ("نجح", "Succeeded"),
        "result_failed": ("فشل", "Failed"),
        "result_timeout": ("انتهت المهلة", "Timed out"),
        "result_pending": ("قيد الانتظار", "Pending"),
        "health_good": ("سليم", "Good"),
        "health_fair": ("متوسط", "Fair"),
        "health_poor": ("ضعيف", "Poor"),
        "health_unknown": ("غير معروف", "Unknown"),

        // Integration page
        "settings_heading": ("الإعدادات", "Settings"),
        "integration_name": ("اسم التكامل", "Integration name"),
        "description": ("الوصف", "Description"),
        "secret_set": ("محفوظ، ينتهي بـ", "set, ending"),
        "secret_unset": ("غير محفوظ", "not set"),
        "secret_keep_hint": ("اتركه فارغاً للإبقاء على القيمة المحفوظة.", "Leave empty to keep the stored value."),
        "default_value": ("الافتراضي", "default"),
        "save": ("حفظ الإعدادات", "Save settings"),
        "enable": ("تفعيل", "Enable"),
        "disable": ("تعطيل", "Disable"),
        "now_enabled": ("التكامل مفعّل.", "The integration is enabled."),
        "now_disabled": ("التكامل معطّل.", "The integration is disabled."),
        "test_heading": ("اختبار الاتصال", "Test connection"),
        "test_intro": ("يتحقق من الإعدادات المحفوظة لدى المزوّد دون إرسال أي رسالة (عدا Slack).",
                       "Checks the saved settings with the provider without sending anything (except for Slack)."),
        "test_connection": ("اختبار الاتصال", "Test connection"),
        "testing_now": ("جارٍ الاختبار…", "Testing…"),
        "latest_result": ("آخر نتيجة", "Latest result"),
        "duration": ("المدة", "Duration"),
        "ms": ("ملّي ثانية", "ms"),
        "test_success_message": ("قبِل المزوّد الاتصال بالإعدادات المحفوظة.", "The provider accepted the connection with the saved settings."),
        "http_status": ("رمز HTTP", "HTTP status"),
        "no_result": ("لم يُجرَ أي اختبار بعد.", "No test has run yet."),
        "webhook_heading": ("رابط الويب هوك", "Webhook URL"),
        "webhook_intro": ("الصق هذا الرابط في لوحة تحكم المزوّد ليرسل الأحداث إلى مُعين.",
                          "Paste this address into the provider's console so it sends events to Moeen Hub."),
        "webhook_none": ("هذا المزوّد لا يرسل أحداث ويب هوك.", "This provider sends no webhook events."),
        "health_heading": ("السلامة", "Health"),
        "health_score": ("درجة السلامة", "Health score"),
        "health_chart_title": ("درجة السلامة عبر الزمن", "Health score over time"),
        "health_chart_empty": ("لا توجد بيانات بعد؛ شغّل اختباراً.", "No data yet; run a test."),
        "health_chart_summary": ("جدول القيم", "Values as a table"),
        "col_time": ("الوقت", "Time"),
        "col_score": ("الدرجة", "Score"),
        "log_heading": ("سجل الاختبارات", "Test log"),
        "log_empty": ("لا توجد اختبارات مسجّلة.", "No tests recorded."),
        "col_type": ("النوع", "Type"),
        "col_message": ("الرسالة", "Message"),
        "col_by": ("بواسطة", "By"),
        "read_only_note": ("دورك يسمح بالقراءة فقط.", "Your role can only read this."),
        "test_failed_to_run": ("تعذّر تشغيل الاختبار.", "The test could not be run."),

        // Users
        "users_heading": ("المستخدمون", "Users"),
        "users_intro": ("من يستطيع الدخول إلى مُعين وبأي دور.", "Who can sign in to Moeen Hub, and with which role."),
        "col_name": ("الاسم", "Name"),
        "col_email": ("البريد الإلكتروني", "E-mail"),
        "col_role": ("الدور", "Role"),
        "col_active": ("نشط", "Active"),
        "col_last_login": ("آخر دخول", "Last sign-in"),
        "col_actions": ("إجراءات", "Actions"),
        "role": ("الدور", "Role"),
        "update_user": ("تحديث", "Update"),
        "deactivate": ("إيقاف", "Deactivate"),
        "activate": ("تفعيل", "Activate"),
        "add_user": ("إضافة مستخدم", "Add a user"),
        "create_user": ("إنشاء المستخدم", "Create user"),
        "user_created": ("تم إنشاء المستخدم.", "The user has been created."),
        "user_updated": ("تم تحديث المستخدم.", "The user has been updated."),
        "cannot_change_self": ("لا يمكنك تغيير دورك أو إيقاف حسابك.", "You can't change your own role or deactivate yourself."),
        "active": ("نشط", "Active"),
        "inactive": ("موقوف", "Deactivated"),

        // Alerts
        "alerts_heading": ("التنبيهات", "Alerts"),
        "alerts_body": ("قواعد التنبيه (عند انخفاض السلامة أو فشل التسليم) تصل في إصدار قادم.",
                        "Alert rules (on falling health or failed deliveries) arrive in a later release."),

        // Security
        "security_heading": ("الأمان", "Security"),
        "security_intro": ("كيف تُحفظ أسرار التكاملات: تشفير مغلّف بمفتاح لكل صف.",
                           "How integration secrets are kept: envelope encryption with one data key per row."),
        "key_provider": ("مزوّد المفاتيح", "Key provider"),
        "key_versions": ("إصدارات المفاتيح المستخدمة", "Key versions in use"),
        "col_key": ("المفتاح", "Key"),
        "col_version": ("الإصدار", "Version"),
        "col_rows": ("عدد الصفوف", "Rows"),
        "last_rotation": ("آخر تدوير", "Last rotation"),
        "unknown": ("غير معروف", "unknown"),
        "keys_not_available": ("لا توجد بيانات مفاتيح بعد (لم تُحفظ أسرار مشفّرة).",
                               "No key data yet (no encrypted secrets stored)."),
        "rotate_hint": ("للتدوير: moeen keys rotate", "To rotate: moeen keys rotate"),
    ]

    static func text(_ key: String, _ language: Language) -> String {
        guard let entry = table[key] else { return key }
        return language == .ar ? entry.ar : entry.en
    }

    /// The whole table in one language, for a page's `t`.
    static func all(_ language: Language) -> [String: String] {
        table.mapValues { language == .ar ? $0.ar : $0.en }
    }
}
