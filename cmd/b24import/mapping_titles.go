package main

import "github.com/b24kit/b24"

// builtinTitles are the column titles exports commonly give the standard
// fields: Bitrix24's own CSV/Excel export (Russian and English interface),
// and the usual names in other CRMs' exports. They are used when no
// portal is at hand (with credentials the portal's own titles come first).
// Titles are compared after folding case, spaces, "_", "-" and ".".
//
// A title maps to a field only where the export's cell holds what the
// field takes: "Компания" on a deal holds a company's name, not its id,
// so it is not here and stays an unknown column to map or skip.
var builtinTitles = map[string][]string{
	"title": {"Название", "Название сделки", "Название лида", "Название компании", "Название предложения",
		"Name", "Title", "Deal Name", "Deal Title", "Deal - Title", "Lead Name", "Lead Title", "Company Name", "Subject"},
	"stageId":    {"Стадия", "Стадия сделки", "Статус", "Статус лида", "Этап", "Stage", "Deal Stage", "Deal - Stage", "Status", "Lead Status"},
	"categoryId": {"Воронка", "Направление", "Pipeline", "Deal - Pipeline", "Deal Pipeline"},
	"opportunity": {"Сумма", "Бюджет", "Сумма сделки", "Amount", "Deal Amount", "Deal - Value", "Value", "Opportunity",
		"Income", "Expected Revenue"},
	"currencyId":   {"Валюта", "Currency", "Deal - Currency", "Currency Code"},
	"assignedById": {"Ответственный", "Responsible", "Responsible person", "Assigned to", "Owner", "Deal owner", "Contact owner", "Company owner", "Lead owner", "Deal - Owner"},
	"begindate":    {"Дата начала", "Start date", "Begin date"},
	"closedate": {"Дата завершения", "Предполагаемая дата закрытия", "Дата закрытия", "Close date", "Closing date", "Expected close date",
		"Deal - Expected close date", "End date"},
	"createdTime": {"Дата создания", "Создано", "Когда создан", "Created", "Create Date", "Created at", "Date created", "Created on",
		"Deal - Deal created", "Deal created", "Creation date"},
	"updatedTime":       {"Дата изменения", "Когда обновлен", "Modified", "Last Modified Date", "Updated at", "Date modified", "Deal - Update time", "Update time"},
	"comments":          {"Комментарий", "Комментарии", "Comment", "Comments", "Notes", "Description", "Deal Description"},
	"probability":       {"Вероятность", "Probability", "Deal - Probability", "Deal probability"},
	"typeId":            {"Тип", "Тип сделки", "Type", "Deal Type"},
	"sourceId":          {"Источник", "Source", "Lead Source", "Deal - Source", "Original Source"},
	"sourceDescription": {"Дополнительно об источнике", "Source information", "Source description"},
	"opened":            {"Доступна для всех", "Доступен для всех", "Available to everyone", "Available to all"},
	"isRecurring":       {"Регулярная сделка", "Recurring deal"},
	"additionalInfo":    {"Дополнительная информация", "Additional information"},
	"taxValue":          {"Ставка налога", "Сумма налога", "Tax", "Tax amount"},
	"originatorId":      {"Внешний источник", "External source", "Originator"},
	"originId":          {"Идентификатор элемента во внешнем источнике", "External ID", "Origin ID"},
	"xmlId":             {"Внешний код", "XML ID"},
	"name":              {"Имя", "First name", "Given name", "Person - First name"},
	"secondName":        {"Отчество", "Second name", "Middle name"},
	"lastName":          {"Фамилия", "Last name", "Surname", "Family name", "Person - Last name"},
	"honorific":         {"Обращение", "Salutation"},
	"birthdate":         {"Дата рождения", "Birthdate", "Date of birth", "Birthday"},
	"post":              {"Должность", "Position", "Job title", "Person - Job title"},
	"companyTitle":      {"Название компании лида", "Company name (lead)"},
	"utmSource":         {"Рекламная система", "UTM source"},
	"utmMedium":         {"Тип трафика", "UTM medium"},
	"utmCampaign":       {"Обозначение рекламной кампании", "UTM campaign"},
	"utmContent":        {"Содержание кампании", "UTM content"},
	"utmTerm":           {"Условие поиска кампании", "UTM term"},
	"observers":         {"Наблюдатели", "Observers"},
	"PHONE_WORK":        {"Телефон", "Рабочий телефон", "Phone", "Work phone", "Phone Number", "Person - Phone", "Phone - Work"},
	"PHONE_MOBILE":      {"Мобильный телефон", "Mobile", "Mobile phone", "Mobile Phone Number", "Phone - Mobile"},
	"PHONE_HOME":        {"Домашний телефон", "Home phone"},
	"EMAIL_WORK":        {"E-mail", "Email", "Рабочий e-mail", "Эл. почта", "Электронная почта", "Work e-mail", "Work email", "Person - Email", "Email - Work"},
	"EMAIL_HOME":        {"Частный e-mail", "Личный e-mail", "Home e-mail", "Personal email"},
	"WEB_WORK":          {"Сайт", "Корпоративный сайт", "Website", "Website URL", "Web", "Corporate website"},
}

// defaultStageNames are the stage names of a new portal's default deal
// pipeline and lead statuses, in the Russian and English interface, so an
// export of an untouched portal maps without a connection. With
// credentials the portal's own names are used instead.
var defaultStageNames = map[b24.EntityTypeID]map[string][]string{
	b24.EntityDeal: {
		"NEW":                {"Новая", "New"},
		"PREPARATION":        {"Подготовка документов", "Preparing documents", "Preparation"},
		"PREPAYMENT_INVOICE": {"Счёт на предоплату", "Счет на предоплату", "Prepayment invoice"},
		"EXECUTING":          {"В работе", "In progress"},
		"FINAL_INVOICE":      {"Финальный счёт", "Финальный счет", "Final invoice"},
		"WON":                {"Сделка успешна", "Deal won", "Won"},
		"LOSE":               {"Сделка провалена", "Deal lost", "Lost"},
		"APOLOGY":            {"Анализ причины провала", "Analyze failure"},
	},
	b24.EntityLead: {
		"NEW":        {"Не обработан", "Unassigned", "New"},
		"IN_PROCESS": {"В работе", "In progress"},
		"PROCESSED":  {"Обработан", "Processed"},
		"JUNK":       {"Некачественный лид", "Junk lead"},
		"CONVERTED":  {"Качественный лид", "Good lead", "Converted"},
	},
}
