//! The shipped catalog loads; broken definitions are refused with file, line and reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use services::{Catalog, FieldKind, Sources};

const GOOD: &str = r#"id = "test-service"
title = "Тестовая услуга"
summary = "Кратко."
description = "Подробно."
category = "certificates"
agency = "fns"
applicants = ["person"]
min_level = "standard"

[deadline]
working_days = 2
review = "manual"

[[form]]
id = "purpose"
label = "Цель"
type = "select"
options = ["Для банка", "Другое"]
required = true

[[form]]
id = "other"
label = "Какая"
type = "text"
when = { field = "purpose", equals = "Другое" }

[result]
title = "Справка"
body = "Выдана {заявитель} для {purpose}."
"#;

fn with(path: &str, text: &str) -> Result<Catalog, Vec<services::DefinitionError>> {
    let mut sources = Sources::shipped();
    sources.add(path, &format!("test/{path}"), text.to_owned());
    Catalog::from_sources(&sources)
}

/// The one error of a catalog with `text` at `path`: (file, line, reason).
fn refused(path: &str, text: &str) -> (String, usize, String) {
    let errors = with(path, text).expect_err("the definition is refused");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    (e.file.clone(), e.line, e.reason.clone())
}

#[test]
fn the_shipped_catalog_loads_with_every_category_served() {
    let catalog = Catalog::shipped().unwrap();
    assert!(catalog.services().len() >= 10, "{}", catalog.services().len());
    for c in catalog.categories() {
        assert!(catalog.in_category(&c.id).next().is_some(), "category {} is empty", c.id);
    }
    for id in
        ["egrn-extract", "income-certificate", "eis-organization-registration", "ip-registration"]
    {
        let s = catalog.service(id).unwrap();
        assert!(catalog.agency(&s.agency).is_some());
        assert!(catalog.workflow(&s.workflow).is_some());
    }
    assert_eq!(catalog.popular()[0].id, "egrn-extract");
    let (found, partial) = catalog.search("выписки из егрн", 5);
    assert_eq!(found[0].id, "egrn-extract");
    assert!(!partial);
    // A repeating group keeps its inner fields.
    let s = catalog.service("criminal-record-certificate").unwrap();
    let group = s.form.iter().find(|f| f.id == "previous_names").unwrap();
    assert!(
        matches!(&group.kind, FieldKind::Group { fields, min: 1, max: 5 } if fields.len() == 2)
    );
    assert!(s.all_fields().iter().any(|(path, _)| path == "previous_names.until"));
}

#[test]
fn a_good_definition_is_added() {
    let catalog = with("catalog/test-service.toml", GOOD).unwrap();
    assert_eq!(catalog.service("test-service").unwrap().workflow, "standard");
}

#[test]
fn broken_definitions_name_the_file_line_and_reason() {
    let path = "catalog/test-service.toml";
    let file = format!("test/{path}");

    let (f, line, reason) = refused(path, &GOOD.replace("review = \"manual\"", "review = manual"));
    assert_eq!((f.as_str(), line), (file.as_str(), 12));
    assert!(reason.starts_with("не разобрать TOML"), "{reason}");

    let (_, line, reason) = refused(path, &GOOD.replace("agency = \"fns\"", "agency = \"nobody\""));
    assert_eq!(line, 6);
    assert_eq!(reason, "ведомство «nobody» не описано в agencies.toml");

    let (_, line, reason) =
        refused(path, &GOOD.replace("equals = \"Другое\"", "equals = \"Иное\""));
    assert_eq!(line, 21, "the line of the field");
    assert_eq!(reason, "поле «other»: «purpose» не может иметь значение «Иное»");

    let (_, line, reason) = refused(
        path,
        &GOOD.replace("type = \"text\"", "type = \"text\"\noptions = [\"a\", \"b\"]"),
    );
    assert_eq!(line, 21);
    assert_eq!(reason, "поле «other»: ключ options не относится к типу text");

    let (_, _, reason) = refused(path, &GOOD.replace("type = \"text\"", "type = \"colour\""));
    assert!(reason.contains("тип «colour» неизвестен"), "{reason}");

    let (_, line, reason) = refused(path, &GOOD.replace("{purpose}", "{purpouse}"));
    assert_eq!(line, 27);
    assert_eq!(reason, "в шаблоне результата поле «{purpouse}» не описано в форме");

    let (_, line, reason) = refused(path, &GOOD.replace("working_days = 2", "working_days = 0"));
    assert_eq!(line, 10);
    assert!(reason.starts_with("deadline.working_days"), "{reason}");

    let (_, line, reason) =
        refused(path, &GOOD.replace("min_level = \"standard\"", "min_level = \"gold\"\nlevel = 1"));
    assert!(line == 8 || line == 9, "{line}");
    assert!(reason.starts_with("не разобрать TOML"), "{reason}");

    let (_, _, reason) = refused("catalog/other-name.toml", GOOD);
    assert_eq!(reason, "id «test-service» не совпадает с именем файла");
}

#[test]
fn broken_workflows_and_agencies_are_refused() {
    let flow = r#"id = "broken"
initial = "submitted"

[[states]]
id = "submitted"
title = "Принята"

[[states]]
id = "lost"
title = "Потеряна"

[[states]]
id = "done"
title = "Готово"
final = true

[[transitions]]
id = "finish"
title = "Готово"
from = ["submitted"]
to = "done"
role = "officer"
"#;
    let (_, line, reason) = refused("workflows/broken.toml", flow);
    assert_eq!(line, 8);
    assert_eq!(reason, "в состояние «lost» нельзя попасть из начального");
    let (_, line, reason) =
        refused("workflows/broken.toml", &flow.replace("to = \"done\"", "to = \"finished\""));
    assert_eq!(line, 17);
    assert_eq!(reason, "переход «finish»: состояние «finished» не описано");

    let text = "[[agency]]\nid = \"x\"\nname = \"X\"\nfull_name = \"X\"\ninn = \"7707329153\"\nogrn = \"1047707030513\"\naddress = \"\"\n";
    let errors = with("agencies.toml", text).unwrap_err();
    assert!(
        errors.iter().any(|e| e.line == 1 && e.reason == "ведомство «x»: ИНН организации неверен"),
        "{errors:?}"
    );
}

#[test]
fn an_operator_directory_adds_and_replaces_services() {
    let dir = std::env::temp_dir().join(format!("uslugi-services-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/test-service.toml"), GOOD).unwrap();
    let replaced = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../services/catalog/egrn-extract.toml"
    ))
    .unwrap()
    .replace("working_days = 3", "working_days = 4");
    std::fs::write(dir.join("catalog/egrn-extract.toml"), replaced).unwrap();
    let catalog = Catalog::load(Some(&dir)).unwrap();
    assert!(catalog.service("test-service").is_some());
    assert_eq!(catalog.service("egrn-extract").unwrap().deadline.working_days, 4);
    assert!(
        catalog.service("egrn-extract").unwrap().source.starts_with(&dir.display().to_string())
    );
    std::fs::write(dir.join("catalog/bad.toml"), "id = ").unwrap();
    let errors = Catalog::load(Some(&dir)).unwrap_err();
    assert!(errors[0].file.ends_with("catalog/bad.toml"), "{errors:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
