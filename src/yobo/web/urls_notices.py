"""Staff pages of notices (views in web/notices_views.py)."""

from django.urls import path

from . import notices_views as v

app_name = "notices"
urlpatterns = [
    path("", v.index, name="index"),
    path("remind/", v.remind, name="remind"),
    path("lists/<int:list_id>/", v.list_detail, name="list"),
    path("lists/<int:list_id>/issue/", v.issue, name="issue"),
    path("lists/<int:list_id>/letters/", v.letters, name="letters"),
    path("lists/<int:list_id>/follow-up/", v.follow_up_result, name="follow_up"),
    path("batches/<int:batch_id>/", v.batch_detail, name="batch"),
    path("batches/<int:batch_id>/pdf/", v.batch_pdf, name="batch_pdf"),
    path("batches/<int:batch_id>/reprint/", v.batch_reprint, name="reprint"),
    path("vouchers/", v.voucher, name="voucher"),
]
